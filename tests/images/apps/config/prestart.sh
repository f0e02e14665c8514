# Runs before uWSGI; it need not be executable.
echo "prestart ran as $(id -u)" > /tmp/prestart-ran
echo "prestart: done"
