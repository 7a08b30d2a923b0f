#include "version.h"

const char *outbox_version(void)
{
    return OUTBOX_VERSION;
}
