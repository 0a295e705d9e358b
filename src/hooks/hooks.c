/* The webhook delivery thread (hooks.h): claims due deliveries, runs their attempts on one curl
 * multi handle, records each attempt and wakes whoever waits for one. */
#include "hooks/hooks.h"

#include <curl/curl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "hooks/address.h"
#include "hooks/retry.h"
#include "hooks/signature.h"
#include "util/clock.h"
#include "util/ids.h"
#include "util/log.h"

#define POLL_MS 1000  /* without a wake-up: retries fall due, other nodes queue events */
#define DUE_BATCH 256 /* deliveries looked at per fill, capped ones skipped */
#define USER_AGENT "streamd/" STREAMD_VERSION

/* One attempt in flight. */
typedef struct transfer {
    struct transfer *next;
    hooks_t *hooks;
    CURL *easy;
    struct curl_slist *headers;
    store_webhook_delivery_t delivery;
    char *url;  /* owned */
    char *body; /* owned */
    char signature[SIGNATURE_HEADER_MAX];
    int64_t started_at_ms;   /* ms since epoch */
    int64_t started_mono_ms; /* monotonic ms */
    char excerpt[HOOKS_EXCERPT_MAX + 1];
    size_t excerpt_len;
    char status_text[64]; /* the status line's reason phrase */
    char refused[160];    /* why the address was not connected to; "" = it was not refused */
    char curl_error[CURL_ERROR_SIZE];
    long timeout_ms;
    hooks_access_done_t access_done; /* set: an access check, answered here, not logged */
    void *access_opaque;
} transfer_t;

typedef struct waiter {
    struct waiter *next;
    char delivery_id[STORE_DELIVERY_ID_SIZE];
    int64_t deadline_ms; /* monotonic */
    hooks_waiter_t fn;
    void *opaque;
} waiter_t;

struct hooks {
    hooks_config_t config;
    store_t *store;
    CURLM *multi;
    pthread_t thread;
    atomic_bool stop;
    atomic_bool poked;      /* the outbox changed since the last fill */
    transfer_t *in_flight;  /* the thread's only */
    size_t in_flight_count; /* the thread's only */
    pthread_mutex_t lock;   /* guards waiters, asked and closed */
    waiter_t *waiters;
    transfer_t *asked;   /* access checks not started yet */
    size_t access_count; /* access checks asked and not answered yet */
    bool closed;         /* the thread has ended: nothing more is taken */
};

/* ---- Waiters ------------------------------------------------------------------------------- */

/* Forgets the waiter of delivery_id without telling it. */
static void drop_waiter(hooks_t *h, const char *delivery_id)
{
    pthread_mutex_lock(&h->lock);
    for (waiter_t **p = &h->waiters; *p; p = &(*p)->next) {
        if (strcmp((*p)->delivery_id, delivery_id) == 0) {
            waiter_t *w = *p;
            *p = w->next;
            free(w);
            break;
        }
    }
    pthread_mutex_unlock(&h->lock);
}

int hooks_resend(hooks_t *h, const char *webhook_id, const char *log_id, hooks_waiter_t fn,
                 void *opaque)
{
    waiter_t *w = calloc(1, sizeof *w);
    if (!w)
        return STORE_ERR;
    if (ids_uuid_v4(w->delivery_id) != 0) {
        free(w);
        return STORE_ERR;
    }
    w->deadline_ms = clock_monotonic_ms() + HOOKS_RESEND_WAIT_MS;
    w->fn = fn;
    w->opaque = opaque;
    char delivery_id[STORE_DELIVERY_ID_SIZE];
    memcpy(delivery_id, w->delivery_id, sizeof delivery_id);
    /* Waiting before the delivery exists: its attempt cannot end unseen. */
    pthread_mutex_lock(&h->lock);
    bool closed = h->closed;
    if (!closed) {
        w->next = h->waiters;
        h->waiters = w;
    }
    pthread_mutex_unlock(&h->lock);
    if (closed) {
        free(w);
        return STORE_UNAVAILABLE;
    }
    int rc = store_webhook_resend(h->store, webhook_id, log_id, delivery_id);
    if (rc != STORE_OK)
        drop_waiter(h, delivery_id);
    return rc;
}

/* Tells the waiters of delivery_id (NULL: those past their deadline, or every one when all, and
 * then hooks takes no more) and forgets them. Callbacks run without the lock. */
static void notify_waiters(hooks_t *h, const char *delivery_id, const char *log_id, bool all)
{
    waiter_t *due = NULL;
    int64_t now = clock_monotonic_ms();
    pthread_mutex_lock(&h->lock);
    h->closed = h->closed || all;
    for (waiter_t **p = &h->waiters; *p;) {
        waiter_t *w = *p;
        bool match =
            all || (delivery_id ? strcmp(w->delivery_id, delivery_id) == 0 : now >= w->deadline_ms);
        if (match) {
            *p = w->next;
            w->next = due;
            due = w;
        } else {
            p = &w->next;
        }
    }
    pthread_mutex_unlock(&h->lock);
    while (due) {
        waiter_t *next = due->next;
        due->fn(due->opaque, log_id);
        free(due);
        due = next;
    }
}

/* ---- One attempt --------------------------------------------------------------------------- */

/* The connection is made only to an address allowed: the one checked is the one connected to. */
static curl_socket_t open_socket(void *clientp, curlsocktype purpose, struct curl_sockaddr *address)
{
    transfer_t *t = clientp;
    if (purpose == CURLSOCKTYPE_IPCXN && !t->hooks->config.allow_private &&
        !address_is_public(&address->addr, address->addrlen)) {
        char text[64];
        address_text(&address->addr, address->addrlen, text, sizeof text);
        snprintf(t->refused, sizeof t->refused,
                 "refused: %s is not a public address (--webhooks-allow-private allows it)", text);
        return CURL_SOCKET_BAD;
    }
    return socket(address->family, address->socktype, address->protocol);
}

static size_t keep_excerpt(char *data, size_t size, size_t count, void *opaque)
{
    transfer_t *t = opaque;
    size_t len = size * count, room = HOOKS_EXCERPT_MAX - t->excerpt_len;
    size_t kept = len < room ? len : room;
    memcpy(t->excerpt + t->excerpt_len, data, kept);
    t->excerpt_len += kept;
    t->excerpt[t->excerpt_len] = '\0';
    return len; /* the rest is read and dropped; the timeout bounds it */
}

/* Keeps the reason phrase of the status line ("HTTP/1.1 500 Internal Server Error"). */
static size_t keep_status_text(char *data, size_t size, size_t count, void *opaque)
{
    transfer_t *t = opaque;
    size_t len = size * count;
    if (len > 5 && strncmp(data, "HTTP/", 5) == 0) {
        char line[128];
        size_t n = len < sizeof line - 1 ? len : sizeof line - 1;
        memcpy(line, data, n);
        line[n] = '\0';
        line[strcspn(line, "\r\n")] = '\0';
        const char *space = strchr(line, ' ');
        const char *reason = space ? strchr(space + 1, ' ') : NULL;
        snprintf(t->status_text, sizeof t->status_text, "%s", reason ? reason + 1 : "");
    }
    return len;
}

static void transfer_free(transfer_t *t)
{
    if (!t)
        return;
    if (t->easy) {
        curl_multi_remove_handle(t->hooks->multi, t->easy);
        curl_easy_cleanup(t->easy);
    }
    curl_slist_free_all(t->headers);
    free(t->url);
    free(t->body);
    free(t);
}

/* Sets up the easy handle of t; returns -1 when libcurl is out of memory. */
static int prepare_easy(transfer_t *t)
{
    char signature[SIGNATURE_HEADER_MAX + sizeof "Livepeer-Signature: "];
    snprintf(signature, sizeof signature, "Livepeer-Signature: %s", t->signature);
    struct curl_slist *headers = curl_slist_append(NULL, "Content-Type: application/json");
    if (headers)
        headers = curl_slist_append(headers, signature);
    if (headers)
        headers = curl_slist_append(headers, "Expect:"); /* no 100-continue round trip */
    t->headers = headers;
    t->easy = curl_easy_init();
    if (!headers || !t->easy)
        return -1;
    CURL *e = t->easy;
    curl_easy_setopt(e, CURLOPT_URL, t->url);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, t->body);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(t->body));
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, t->headers);
    curl_easy_setopt(e, CURLOPT_USERAGENT, USER_AGENT);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, t->timeout_ms);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_PROXY, ""); /* no proxy from the environment: we connect */
    curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, open_socket);
    curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, t);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, keep_excerpt);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, t);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, keep_status_text);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, t);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t->curl_error);
    curl_easy_setopt(e, CURLOPT_PRIVATE, t);
    return 0;
}

/* The request as the log shows it. */
static char *request_json(const transfer_t *t)
{
    json_t *o = json_pack("{s:s,s:s,s:{s:s,s:s,s:s},s:s}", "url", t->url, "method", "POST",
                          "headers", "content-type", "application/json", "user-agent", USER_AGENT,
                          "livepeer-signature", t->signature, "body", t->body);
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    return text;
}

/* The response as the log shows it ({} and the error when none came), and the webhook's
 * status.lastFailure when the attempt failed. */
static char *response_json(const transfer_t *t, long status, const char *error)
{
    json_t *o = json_object();
    if (status > 0) {
        json_object_set_new(o, "status", json_integer(status));
        json_object_set_new(o, "statusText", json_string(t->status_text));
        json_object_set_new(o, "body", json_stringn_nocheck(t->excerpt, t->excerpt_len));
    }
    if (error)
        json_object_set_new(o, "error", json_string(error));
    char *text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return text;
}

static char *failure_json(const transfer_t *t, long status, const char *error)
{
    json_t *o = json_pack("{s:I}", "timestamp", (json_int_t)t->started_at_ms);
    if (status > 0) {
        json_object_set_new(o, "statusCode", json_integer(status));
        json_object_set_new(o, "response", json_stringn_nocheck(t->excerpt, t->excerpt_len));
    }
    json_object_set_new(o, "error", json_string(error ? error : "unexpected HTTP status"));
    char *text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return text;
}

/* Records the attempt's result and tells its waiters. error is NULL when a response came. */
static void record(hooks_t *h, transfer_t *t, long status, const char *error)
{
    const store_webhook_delivery_t *d = &t->delivery;
    retry_outcome_t outcome = retry_outcome(status, error != NULL, t->refused[0] != '\0');
    int64_t attempts = d->attempts + 1, now = clock_now_ms();
    bool retry = outcome == RETRY_AGAIN && d->retries && retry_allowed(attempts);
    store_webhook_log_t log = {
        .duration_s = (double)(clock_monotonic_ms() - t->started_mono_ms) / 1000.0,
        .success = outcome == RETRY_DELIVERED,
        .request_json = request_json(t),
        .response_json = response_json(t, status, error),
    };
    memcpy(log.webhook_id, d->webhook_id, STORE_ID_SIZE);
    memcpy(log.event_id, d->event_id, STORE_ID_SIZE);
    memcpy(log.event, d->event, sizeof log.event);
    memcpy(log.stream_id, d->stream_id, STORE_ID_SIZE);
    memcpy(log.session_id, d->session_id, STORE_ID_SIZE);
    char *failure = log.success ? NULL : failure_json(t, status, error);
    store_webhook_attempt_t attempt = {
        .delivery_id = d->id,
        .started_at_ms = t->started_at_ms,
        .success = log.success,
        .retry = retry,
        .next_attempt_at_ms = now + retry_delay_ms(attempts),
        .log = &log,
        .failure_json = failure,
    };
    int rc = log.request_json && log.response_json ? store_webhook_attempt_done(h->store, &attempt)
                                                   : STORE_ERR;
    char why[256];
    if (error)
        snprintf(why, sizeof why, "%s", error);
    else
        snprintf(why, sizeof why, "HTTP %ld", status);
    if (log.success)
        log_info("webhooks", "webhook %s: %s (event %s) delivered: %s in %.0f ms", d->webhook_id,
                 d->event, d->event_id, why, log.duration_s * 1000);
    else
        log_warn("webhooks", "webhook %s: %s (event %s) attempt %lld failed: %s; %s", d->webhook_id,
                 d->event, d->event_id, (long long)attempts, why,
                 retry ? "retried later" : "given up");
    if (rc != STORE_OK)
        log_error("webhooks", "delivery %s: attempt not recorded; retried once its claim lapses",
                  d->id);
    notify_waiters(h, d->id, rc == STORE_OK ? log.id : NULL, false);
    free(failure);
    free(log.request_json);
    free(log.response_json);
}

/* Starts the attempt of a claimed delivery; an attempt that cannot start is recorded failed. */
static void start(hooks_t *h, const store_webhook_delivery_t *d)
{
    store_webhook_t w;
    int rc = store_webhook_get(h->store, NULL, d->webhook_id, &w);
    if (rc != STORE_OK) {
        store_webhook_clear(&w);
        return; /* deleted with its deliveries, or the store is away: the claim lapses */
    }
    transfer_t *t = calloc(1, sizeof *t);
    if (!t) {
        store_webhook_clear(&w);
        return;
    }
    t->hooks = h;
    t->timeout_ms = HOOKS_TIMEOUT_MS;
    t->delivery = *d;
    t->started_at_ms = clock_now_ms();
    t->started_mono_ms = clock_monotonic_ms();
    t->url = w.url;
    w.url = NULL;
    t->body = h->config.render(h->config.render_opaque, d, t->started_at_ms);
    const char *problem = NULL;
    if (!t->body) {
        t->body = strdup("");
        problem = "the event body could not be built";
    } else if (signature_header(w.shared_secret, t->body, strlen(t->body), t->started_at_ms,
                                t->signature, sizeof t->signature) != 0) {
        problem = "the body could not be signed";
    }
    store_webhook_clear(&w);
    if (!problem && prepare_easy(t) == 0 && curl_multi_add_handle(h->multi, t->easy) == CURLM_OK) {
        t->next = h->in_flight;
        h->in_flight = t;
        h->in_flight_count++;
        return;
    }
    if (t->url && t->body)
        record(h, t, 0, problem ? problem : "out of memory");
    transfer_free(t);
}

static bool in_flight(const hooks_t *h, const char *delivery_id, size_t *same_webhook,
                      const char *webhook_id)
{
    *same_webhook = 0;
    for (const transfer_t *t = h->in_flight; t; t = t->next) {
        if (strcmp(t->delivery.id, delivery_id) == 0)
            return true;
        if (strcmp(t->delivery.webhook_id, webhook_id) == 0)
            (*same_webhook)++;
    }
    return false;
}

/* Claims and starts due deliveries while there is room. */
static void fill(hooks_t *h)
{
    if (h->in_flight_count >= HOOKS_MAX_IN_FLIGHT)
        return;
    int64_t now = clock_now_ms();
    store_webhook_delivery_t *due = NULL;
    size_t count = 0;
    if (store_webhook_list_due(h->store, now, DUE_BATCH, &due, &count) != STORE_OK)
        count = 0;
    for (size_t i = 0; i < count && h->in_flight_count < HOOKS_MAX_IN_FLIGHT; i++) {
        size_t same_webhook = 0;
        if (in_flight(h, due[i].id, &same_webhook, due[i].webhook_id) ||
            same_webhook >= HOOKS_MAX_IN_FLIGHT_PER_WEBHOOK)
            continue;
        if (store_webhook_claim(h->store, due[i].id, h->config.node_id, now, HOOKS_LEASE_MS) ==
            STORE_OK)
            start(h, &due[i]);
    }
    store_webhook_delivery_list_free(due, count);
}

/* Tells an access check its answer; it no longer counts against HOOKS_MAX_ACCESS_CHECKS. */
static void answer_access(transfer_t *t, long status, const char *error)
{
    hooks_t *h = t->hooks;
    pthread_mutex_lock(&h->lock);
    h->access_count--;
    pthread_mutex_unlock(&h->lock);
    t->access_done(t->access_opaque, status, error);
}

/* Records every finished attempt; returns how many finished. */
static int collect(hooks_t *h)
{
    int finished = 0, left = 0;
    CURLMsg *msg;
    while ((msg = curl_multi_info_read(h->multi, &left))) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        transfer_t *t = NULL;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&t);
        CURLcode result = msg->data.result;
        long status = 0;
        curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &status);
        const char *error = NULL;
        if (t->refused[0])
            error = t->refused;
        else if (result != CURLE_OK)
            error = t->curl_error[0] ? t->curl_error : curl_easy_strerror(result);
        if (t->access_done)
            answer_access(t, result == CURLE_OK ? status : 0, error);
        else
            record(h, t, result == CURLE_OK ? status : 0, error);
        for (transfer_t **p = &h->in_flight; *p; p = &(*p)->next) {
            if (*p == t) {
                *p = t->next;
                break;
            }
        }
        h->in_flight_count--;
        transfer_free(t);
        finished++;
    }
    return finished;
}

static void prune(hooks_t *h)
{
    if (h->config.log_max_age_s <= 0)
        return;
    int64_t deleted = 0;
    if (store_webhook_prune(h->store, clock_now_ms() - h->config.log_max_age_s * 1000, &deleted) ==
            STORE_OK &&
        deleted > 0)
        log_info("webhooks", "%lld attempt log(s) older than %lld s deleted", (long long)deleted,
                 (long long)h->config.log_max_age_s);
}

/* The access checks asked for and not started yet, now the caller's. */
static transfer_t *take_asked(hooks_t *h)
{
    pthread_mutex_lock(&h->lock);
    transfer_t *asked = h->asked;
    h->asked = NULL;
    pthread_mutex_unlock(&h->lock);
    return asked;
}

/* Starts the access checks asked for since the last turn. */
static void start_asked(hooks_t *h)
{
    transfer_t *asked = take_asked(h);
    while (asked) {
        transfer_t *t = asked;
        asked = t->next;
        if (prepare_easy(t) != 0 || curl_multi_add_handle(h->multi, t->easy) != CURLM_OK) {
            answer_access(t, 0, "out of memory");
            transfer_free(t);
            continue;
        }
        t->next = h->in_flight;
        h->in_flight = t;
        h->in_flight_count++;
    }
}

/* Tells every access check not answered yet that none will be. */
static void abandon_access_checks(transfer_t *list, bool in_flight)
{
    for (transfer_t *t = list, *next; t; t = next) {
        next = t->next;
        if (t->access_done)
            answer_access(t, 0, "the server is stopping");
        else if (in_flight)
            log_info("webhooks", "delivery %s: attempt abandoned at shutdown (due again at once)",
                     t->delivery.id);
        transfer_free(t);
    }
}

static void *run(void *opaque)
{
    hooks_t *h = opaque;
    pthread_setname_np(pthread_self(), "hooks"); /* bench/webhooks.sh reads its CPU apart */
    int64_t last_fill = 0, last_prune = 0;
    bool freed_slot = false;
    while (!atomic_load(&h->stop)) {
        int64_t now = clock_monotonic_ms();
        if (now - last_prune >= HOOKS_PRUNE_INTERVAL_MS) {
            prune(h);
            last_prune = now;
        }
        /* The store is asked when something may have become due, not on every socket event. */
        start_asked(h);
        if (atomic_exchange(&h->poked, false) || freed_slot || now - last_fill >= POLL_MS) {
            fill(h);
            last_fill = now;
        }
        int running = 0;
        curl_multi_perform(h->multi, &running);
        freed_slot = collect(h) > 0;
        notify_waiters(h, NULL, NULL, false);
        if (!freed_slot)
            curl_multi_poll(h->multi, NULL, 0, POLL_MS, NULL);
    }
    abandon_access_checks(h->in_flight, true);
    h->in_flight = NULL;
    store_webhook_release_claims(h->store, h->config.node_id);
    notify_waiters(h, NULL, NULL, true); /* closes: nothing is asked for after this */
    abandon_access_checks(take_asked(h), false);
    return NULL;
}

static void on_outbox_changed(void *opaque)
{
    hooks_t *h = opaque;
    atomic_store(&h->poked, true);
    curl_multi_wakeup(h->multi);
}

hooks_t *hooks_start(const hooks_config_t *config, store_t *store, char *err, size_t err_size)
{
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        snprintf(err, err_size, "libcurl could not be initialized");
        return NULL;
    }
    hooks_t *h = calloc(1, sizeof *h);
    if (!h || !(h->multi = curl_multi_init())) {
        free(h);
        curl_global_cleanup();
        snprintf(err, err_size, "out of memory");
        return NULL;
    }
    h->config = *config;
    h->store = store;
    pthread_mutex_init(&h->lock, NULL);
    atomic_init(&h->stop, false);
    atomic_init(&h->poked, true);
    if (store_webhook_release_claims(store, config->node_id) != STORE_OK)
        log_warn("webhooks", "earlier claims of node %s not released: due when they lapse",
                 config->node_id);
    store_watch_outbox(store, on_outbox_changed, h);
    if (pthread_create(&h->thread, NULL, run, h) != 0) {
        store_watch_outbox(store, NULL, NULL);
        curl_multi_cleanup(h->multi);
        pthread_mutex_destroy(&h->lock);
        free(h);
        curl_global_cleanup();
        snprintf(err, err_size, "cannot start the webhook delivery thread");
        return NULL;
    }
    log_info("webhooks", "delivery started (%s addresses %s)", "private",
             config->allow_private ? "allowed" : "refused");
    return h;
}

int hooks_access_check(hooks_t *h, const char *url, const char *secret, char *body,
                       hooks_access_done_t done, void *opaque)
{
    transfer_t *t = calloc(1, sizeof *t);
    if (!t || !(t->url = strdup(url))) {
        free(t);
        free(body);
        return -1;
    }
    t->hooks = h;
    t->body = body;
    t->timeout_ms = HOOKS_ACCESS_TIMEOUT_MS;
    t->access_done = done;
    t->access_opaque = opaque;
    t->started_at_ms = clock_now_ms();
    t->started_mono_ms = clock_monotonic_ms();
    if (signature_header(secret ? secret : "", body, strlen(body), t->started_at_ms, t->signature,
                         sizeof t->signature) != 0) {
        transfer_free(t);
        return -1;
    }
    pthread_mutex_lock(&h->lock);
    bool taken = !h->closed && h->access_count < HOOKS_MAX_ACCESS_CHECKS;
    if (taken) {
        t->next = h->asked;
        h->asked = t;
        h->access_count++;
    }
    pthread_mutex_unlock(&h->lock);
    if (!taken) {
        transfer_free(t);
        return -1;
    }
    curl_multi_wakeup(h->multi);
    return 0;
}

void hooks_stop(hooks_t *h)
{
    if (!h)
        return;
    store_watch_outbox(h->store, NULL, NULL);
    atomic_store(&h->stop, true);
    curl_multi_wakeup(h->multi);
    pthread_join(h->thread, NULL);
}

void hooks_free(hooks_t *h)
{
    if (!h)
        return;
    curl_multi_cleanup(h->multi);
    pthread_mutex_destroy(&h->lock);
    free(h);
    curl_global_cleanup();
}
