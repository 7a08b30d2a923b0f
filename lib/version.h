#ifndef OUTBOX_VERSION_H
#define OUTBOX_VERSION_H

/* The toolkit's version string ("0.1.0"). Static storage; any thread. */
const char *outbox_version(void);

#endif
