/* URL checks (url.h), with libcurl's URL parser. */
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
