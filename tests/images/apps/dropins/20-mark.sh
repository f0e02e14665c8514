#!/bin/sh
touch /tmp/dropin-ran
