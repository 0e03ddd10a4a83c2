# SPDX-License-Identifier: GPL-2.0
# The C test harness for a test program's Makefile: include this file, then
#
#	$(OUT)/harness.o: $(HARNESS_SRC) $(HARNESS_HDR)
#		$(CC) $(CFLAGS) $(HARNESS_CFLAGS) -c -o $@ $<
#
# add $(HARNESS_CFLAGS) where the tests are compiled (for harness.h), link
# harness.o, and call th_main(argc, argv) from main(). It is compiled by
# each user with the user's CFLAGS (the conformance suite links statically).

HARNESS_DIR	:= $(abspath $(dir $(lastword $(MAKEFILE_LIST))))
HARNESS_SRC	:= $(HARNESS_DIR)/harness.c
HARNESS_HDR	:= $(HARNESS_DIR)/harness.h
# harness.c names NE_ERR_* codes: the project's uapi header, not the system's.
# The checks' message is optional: "" __VA_ARGS__ may be an empty format.
HARNESS_CFLAGS	:= -I$(HARNESS_DIR) -I$(abspath $(HARNESS_DIR)/../../../uapi) \
		   -Wno-format-zero-length
