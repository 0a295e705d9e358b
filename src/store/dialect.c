/* Rendering SQL for a dialect (dialect.h). */
#include "store/dialect.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

typedef struct token {
    const char *name;
    const char *sqlite;
    const char *postgres;
} token_t;

static const token_t tokens[] = {
    {"{bool}", "INTEGER", "BOOLEAN"},
    {"{int}", "INTEGER", "BIGINT"},
    {"{real}", "REAL", "DOUBLE PRECISION"},
    {"{false}", "0", "FALSE"},
    {"{json}", "TEXT", "JSON"},
    {"{rowid}", "", "rowid BIGSERIAL,"},
    {"{max}", "MAX", "GREATEST"},
    {"{schema_version}", "PRAGMA user_version", "SELECT version FROM streamd_schema"},
};

#define TOKEN_COUNT (sizeof tokens / sizeof tokens[0])
/* No replacement is longer than its token by more than this. */
#define TOKEN_GROWTH 24

static const token_t *token_at(const char *p)
{
    for (size_t i = 0; i < TOKEN_COUNT; i++) {
        if (strncmp(p, tokens[i].name, strlen(tokens[i].name)) == 0)
            return &tokens[i];
    }
    return NULL;
}

char *dialect_render(const char *text, store_query_dialect_t dialect)
{
    if (dialect != STORE_QUERY_SQLITE && dialect != STORE_QUERY_POSTGRES)
        return NULL;
    bool postgres = dialect == STORE_QUERY_POSTGRES;
    size_t size = strlen(text) + 1;
    for (const char *p = text; *p; p++)
        if (*p == '{')
            size += TOKEN_GROWTH;
    char *out = malloc(size);
    if (!out)
        return NULL;
    size_t len = 0;
    for (const char *p = text; *p;) {
        const token_t *t = *p == '{' ? token_at(p) : NULL;
        if (t) {
            const char *value = postgres ? t->postgres : t->sqlite;
            memcpy(out + len, value, strlen(value));
            len += strlen(value);
            p += strlen(t->name);
        } else if (*p == '?' && postgres && isdigit((unsigned char)p[1])) {
            out[len++] = '$';
            p++;
        } else {
            out[len++] = *p++;
        }
    }
    out[len] = '\0';
    return out;
}

int dialect_param_count(const char *text)
{
    int highest = 0;
    for (const char *p = strchr(text, '?'); p; p = strchr(p + 1, '?')) {
        if (!isdigit((unsigned char)p[1]))
            continue;
        int n = atoi(p + 1);
        if (n > highest)
            highest = n;
    }
    return highest;
}
