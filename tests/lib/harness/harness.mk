# SPDX-License-Identifier: GPL-2.0
# The C test harness for a test program's Makefile: include this file, then
#
#	$(OUT)/harness.o: $(HARNESS_SRC) $(HARNESS_HDR)
#		$(CC) $(CFLAGS) $(HARNESS_OBJ_CFLAGS) -c -o $@ $<
#
# compile the tests with $(HARNESS_CFLAGS), link harness.o, and call
# th_main(argc, argv) from main(). Each user compiles harness.c with its own
# CFLAGS (the conformance suite and the fuzzer link statically).

HARNESS_DIR	:= $(abspath $(dir $(lastword $(MAKEFILE_LIST))))
HARNESS_SRC	:= $(HARNESS_DIR)/harness.c
HARNESS_HDR	:= $(HARNESS_DIR)/harness.h
# The checks' message is optional: "" __VA_ARGS__ may be an empty format.
HARNESS_CFLAGS	:= -I$(HARNESS_DIR) -Wno-format-zero-length
# harness.c names NE_ERR_* codes: the project's uapi header, not the system's.
HARNESS_OBJ_CFLAGS := $(HARNESS_CFLAGS) -I$(abspath $(HARNESS_DIR)/../../../uapi)
