"""What the test packages share: containers, fixtures, the DAP client, the component pipeline."""
