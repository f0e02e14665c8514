"""What the test packages share: containers, fixtures, the component pipeline, and devkit's DAP client (dap.py)."""
