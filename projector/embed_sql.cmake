# Writes OUT, a C file defining the NUL-terminated `NAME` with the bytes of IN (cmake -P).
file(READ ${IN} hex HEX)
string(REGEX REPLACE "(..)" "0x\\1," bytes "${hex}")
file(WRITE ${OUT} "/* Generated from ${NAME}'s source file by embed_sql.cmake: do not edit. */\n"
     "const char ${NAME}[] = {${bytes}0x00};\n")
