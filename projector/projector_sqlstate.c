/* projector_sqlstate: SQLSTATE -> retry, dead-letter or stop. */
#include "projector_sqlstate.h"

#include <string.h>

static int class_is(const char *sqlstate, const char *cls)
{
    return sqlstate[0] == cls[0] && sqlstate[1] == cls[1];
}

projector_sqlstate_class projector_sqlstate_classify(const char *sqlstate)
{
    static const char *const transient_codes[] = {"55P03", "55006", "25P04", "72000", NULL};
    static const char *const transient_classes[] = {"08", "40", "53", "57", "58", NULL};
    static const char *const fatal_codes[] = {"42501", "3D000", "0A000", "08P01",
                                              "42P01", "42703", NULL};
    static const char *const fatal_classes[] = {"28", "XX", "F0", NULL};

    if (sqlstate == NULL || strlen(sqlstate) != 5)
        return PROJECTOR_SQLSTATE_TRANSIENT;
    for (int i = 0; transient_codes[i]; i++)
        if (strcmp(sqlstate, transient_codes[i]) == 0)
            return PROJECTOR_SQLSTATE_TRANSIENT;
    for (int i = 0; fatal_codes[i]; i++)
        if (strcmp(sqlstate, fatal_codes[i]) == 0)
            return PROJECTOR_SQLSTATE_FATAL;
    for (int i = 0; transient_classes[i]; i++)
        if (class_is(sqlstate, transient_classes[i]))
            return PROJECTOR_SQLSTATE_TRANSIENT;
    for (int i = 0; fatal_classes[i]; i++)
        if (class_is(sqlstate, fatal_classes[i]))
            return PROJECTOR_SQLSTATE_FATAL;
    return PROJECTOR_SQLSTATE_PERMANENT;
}

const char *projector_sqlstate_class_name(projector_sqlstate_class cls)
{
    switch (cls) {
    case PROJECTOR_SQLSTATE_TRANSIENT:
        return "transient";
    case PROJECTOR_SQLSTATE_PERMANENT:
        return "permanent";
    case PROJECTOR_SQLSTATE_FATAL:
        return "fatal";
    }
    return "?";
}
