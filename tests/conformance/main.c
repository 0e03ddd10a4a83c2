// SPDX-License-Identifier: GPL-2.0
/*
 * ne-conformance entry point: remember global state, run the selected
 * tests (restoring state after each), put the machine back as found.
 */
#include "ne_lib.h"

int main(int argc, char **argv)
{
	int rc;

	suite_init();
	th_set_after_each(suite_after_each);
	rc = th_main(argc, argv);
	suite_finish();
	return rc;
}
