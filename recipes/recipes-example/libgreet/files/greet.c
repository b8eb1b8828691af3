#include <stdio.h>

#include "greet.h"

int greet_format(char *buf, unsigned long size, const char *name)
{
    return snprintf(buf, size, "Hello, %s!", name && *name ? name : "world");
}

const char *greet_version(void)
{
    return "1.0";
}
