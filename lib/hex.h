#ifndef OUTBOX_HEX_H
#define OUTBOX_HEX_H

/*
 * hex: the value of one hexadecimal digit, for the parsers that read hex text (LSNs in
 * pgoutput, UUIDs and \u escapes in the Avro codecs, bytea payloads in the router). Inline
 * because those parsers call it per character. Pure; any thread.
 */

/* 0-15 for '0'-'9', 'a'-'f' and 'A'-'F'; -1 for any other character (a negative char too). */
static inline int outbox_hex_digit(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

#endif
