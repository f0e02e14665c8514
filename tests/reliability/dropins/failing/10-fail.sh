#!/usr/bin/env bash
# A drop-in that fails: the container must stop with its status.
exit 4
