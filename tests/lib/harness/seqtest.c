// SPDX-License-Identifier: GPL-2.0
/*
 * Self-test of the harness's sequential points (th_tap_*): two pass, one
 * fails, a description may begin with a number. selftest.sh checks the
 * lines, the plan, the summary line and the exit status.
 */
#include <stdio.h>

#include "harness.h"

int main(void)
{
	th_tap_begin();
	th_tap_point(1, "first step");
	if (!th_tap_point(0, "second step, %d", 2))
		TH_LOG("why the second step failed");
	th_tap_point(th_tap_failed() == 1, "%d regions", 32);
	return th_tap_end();
}
