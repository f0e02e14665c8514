echo "migrating..."
echo "the database is not there" >&2
exit 3
