/* URL checks (url.h), with libcurl's URL parser, and query escaping. */
#include "util/url.h"

#include <curl/curl.h>
#include <string.h>

bool url_is_http(const char *url)
{
    if (!url || (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0))
        return false;
    /* libcurl reads "https:///path" as the host "path". */
    if (strstr(url, "://")[3] == '/')
        return false;
    CURLU *parsed = curl_url();
    char *host = NULL;
    bool ok = parsed && curl_url_set(parsed, CURLUPART_URL, url, 0) == CURLUE_OK &&
              curl_url_get(parsed, CURLUPART_HOST, &host, 0) == CURLUE_OK && host && host[0];
    curl_free(host);
    curl_url_cleanup(parsed);
    return ok;
}

int url_escape(const char *in, char *out, size_t size)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t used = 0;
    for (const unsigned char *p = (const unsigned char *)in; *p; p++) {
        bool plain = (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
                     (*p >= '0' && *p <= '9') || strchr("-._~", *p);
        if (used + (plain ? 1 : 3) >= size)
            return -1;
        if (plain) {
            out[used++] = (char)*p;
        } else {
            out[used++] = '%';
            out[used++] = hex[*p >> 4];
            out[used++] = hex[*p & 15];
        }
    }
    if (used >= size)
        return -1;
    out[used] = '\0';
    return (int)used;
}
