"""What tests/ and bench/ share, outside both: the project's facts and the DAP client."""
