/* greetings [LANG [NAME]]: the greeting of a language, from the table greet-gen generated at build time;
 * without arguments, every language of the table. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "greetings-table.h"

static int by_lang(const void *key, const void *entry)
{
    return strcmp((const char *)key, ((const struct greeting *)entry)->lang);
}

int main(int argc, char **argv)
{
    const struct greeting *found;

    if (argc < 2) {
        for (size_t i = 0; i < GREETINGS_COUNT; i++)
            printf("%s: %s\n", greetings[i].lang, greetings[i].text);
        printf("(%d languages, table from greet-gen %s)\n", GREETINGS_COUNT, GREET_GEN_TABLE_VERSION);
        return 0;
    }
    /* the generator sorted the table: a binary search finds a language */
    found = bsearch(argv[1], greetings, GREETINGS_COUNT, sizeof(greetings[0]), by_lang);
    if (!found) {
        fprintf(stderr, "greetings: no greeting for language '%s'\n", argv[1]);
        return 1;
    }
    printf("%s, %s!\n", found->text, argc > 2 ? argv[2] : "world");
    return 0;
}
