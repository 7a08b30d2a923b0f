#ifndef PROJECTOR_SQLSTATE_H
#define PROJECTOR_SQLSTATE_H

/*
 * projector_sqlstate: what to do about a failed PostgreSQL statement, decided by its SQLSTATE.
 *
 *   TRANSIENT  the same batch may succeed later: roll back, back off, reconnect if the
 *              connection is gone, retry the whole batch. Classes 08 (connection) but 08P01,
 *              40 (serialization failure, deadlock), 53 (insufficient resources), 57
 *              (operator intervention: admin shutdown, crash shutdown, cannot connect now,
 *              query canceled), 58 (system error: I/O), 55P03 (lock not available), 55006
 *              (object in use), 25P04 (transaction timeout), 72000 (snapshot too old), and a
 *              missing SQLSTATE (the connection broke before the server answered).
 *   PERMANENT  the event itself cannot be applied (data exception 22, integrity constraint 23,
 *              syntax or access rule 42 other than privileges, raised by a trigger P0, invalid
 *              text representation, ...): the event goes to the dead-letter topic and the
 *              projection moves on. The default for every class not listed here.
 *   FATAL      no event could be applied until an operator changes something: 42501
 *              insufficient privilege, 3D000 invalid catalog (database missing), 28
 *              (authentication), 0A000 feature not supported, 08P01 protocol violation (a
 *              statement bound with fewer parameters than it uses: the server keeps the
 *              connection, and every retry would fail the same way), 42P01 and 42703 (a table
 *              or column the statement names is gone: a read-model migration under a running
 *              daemon), XX (internal error, data corrupted), F0 (config file error).
 *              Dead-lettering would empty the topic into the dead-letter topic, so the
 *              projection stops and reports instead.
 *
 * Pure; any thread.
 */

typedef enum projector_sqlstate_class {
    PROJECTOR_SQLSTATE_TRANSIENT = 1,
    PROJECTOR_SQLSTATE_PERMANENT = 2,
    PROJECTOR_SQLSTATE_FATAL = 3,
} projector_sqlstate_class;

/* The class of `sqlstate` (5 characters; NULL or "" = no SQLSTATE: TRANSIENT). */
projector_sqlstate_class projector_sqlstate_classify(const char *sqlstate);

/* "transient", "permanent", "fatal". Static storage. */
const char *projector_sqlstate_class_name(projector_sqlstate_class cls);

#endif
