#ifndef GREET_H
#define GREET_H

/* Writes a greeting for NAME into BUF (at most SIZE bytes); returns the length it needed. */
int greet_format(char *buf, unsigned long size, const char *name);

/* The library's version, for programs to print. */
const char *greet_version(void);

#endif
