/*
 * A STAND-IN for Duo's PAM module (pam_duo, https://github.com/duosecurity/duo_unix) on
 * hpcinit's test cluster: Duo's service cannot be reached from here, so this module asks what
 * pam_duo asks and decides what Duo's service would. Built by tests/cluster/up.sh.
 *
 * As pam_duo does under sshd (its DUO_FLAG_SYNC mode):
 *   - one PAM_PROMPT_ECHO_ON prompt whose text is Duo's menu, e.g.
 *       Duo two-factor login for hpcuser
 *
 *       Enter a passcode or select one of the following options:
 *
 *        1. Duo Push to My phone (iOS)
 *
 *       Passcode or option (1-1):
 *     (`menu=3` adds "2. Phone call to XXX-XXX-1234" and "3. SMS passcodes to XXX-XXX-1234",
 *     and asks "(1-3)");
 *   - `1` sends a push and waits for it, with no timeout of its own (the service ends an
 *     unanswered push: "Login timed out."); the answer comes from the file STATE/push, which
 *     the tests write: `approve SECONDS`, `deny SECONDS` or `ignore` (never answered, so the
 *     push times out after push_timeout= seconds, Duo's 60 by default; `ignore SECONDS` times
 *     out after SECONDS, so that a test need not wait a minute);
 *   - a six-digit passcode is checked against STATE/passcodes (one per line; used once);
 *   - every outcome is a PAM_TEXT_INFO status message, as Duo's service words it ("Pushed a
 *     login request to your device...", "Success. Logging you in...", "Login request denied.",
 *     "Login timed out.", "Incorrect passcode. Please try again."), and a refusal asks again,
 *     up to prompts= times (pam_duo's `prompts`, 3 by default), then PAM_MAXTRIES.
 * Each decision is appended to STATE/log ("push approve hpcuser", "passcode ok hpcuser", ...).
 *
 * Arguments: state=DIR (required), prompts=N, menu=1|3, push_timeout=SECONDS.
 */
#define PAM_SM_AUTH
#include <security/pam_appl.h>
#include <security/pam_ext.h>
#include <security/pam_modules.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct opts {
    const char *state;
    int prompts;
    int menu;
    int push_timeout;
};

static void parse(struct opts *o, int argc, const char **argv)
{
    o->state = NULL;
    o->prompts = 3;
    o->menu = 1;
    o->push_timeout = 60;
    for (int i = 0; i < argc; i++) {
        if (strncmp(argv[i], "state=", 6) == 0)
            o->state = argv[i] + 6;
        else if (strncmp(argv[i], "prompts=", 8) == 0)
            o->prompts = atoi(argv[i] + 8);
        else if (strncmp(argv[i], "menu=", 5) == 0)
            o->menu = atoi(argv[i] + 5);
        else if (strncmp(argv[i], "push_timeout=", 13) == 0)
            o->push_timeout = atoi(argv[i] + 13);
    }
    if (o->prompts < 1)
        o->prompts = 1;
}

static void note(const struct opts *o, const char *what, const char *user)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/log", o->state);
    FILE *f = fopen(path, "a");
    if (f) {
        fprintf(f, "%s %s\n", what, user);
        fclose(f);
    }
}

/* What the person decides on the phone: 1 approve, 0 deny, -1 no answer (timed out). */
static int push(const struct opts *o)
{
    char path[4096], word[32] = "";
    int delay = 0;
    snprintf(path, sizeof path, "%s/push", o->state);
    FILE *f = fopen(path, "r");
    if (f) {
        if (fscanf(f, "%31s %d", word, &delay) < 1)
            word[0] = 0;
        fclose(f);
    }
    if (strcmp(word, "ignore") == 0 && delay > 0) {
        /* Unanswered; the service gives up after `delay` seconds instead of push_timeout. */
        sleep((unsigned)delay);
        return -1;
    }
    if (strcmp(word, "approve") == 0 || strcmp(word, "deny") == 0) {
        if (delay > o->push_timeout) {
            sleep((unsigned)o->push_timeout);
            return -1;
        }
        sleep((unsigned)delay);
        return strcmp(word, "approve") == 0;
    }
    sleep((unsigned)o->push_timeout);
    return -1;
}

/* A six-digit passcode listed in STATE/passcodes, removed once used. */
static int passcode(const struct opts *o, const char *code)
{
    char path[4096], tmp[4200], line[64];
    int ok = 0;
    snprintf(path, sizeof path, "%s/passcodes", o->state);
    snprintf(tmp, sizeof tmp, "%s.new", path);
    FILE *in = fopen(path, "r");
    if (!in)
        return 0;
    FILE *out = fopen(tmp, "w");
    while (fgets(line, sizeof line, in)) {
        line[strcspn(line, "\r\n")] = 0;
        if (!ok && strcmp(line, code) == 0) {
            ok = 1;
            continue;
        }
        if (out)
            fprintf(out, "%s\n", line);
    }
    fclose(in);
    if (out) {
        fclose(out);
        rename(tmp, path);
    }
    return ok;
}

static int six_digits(const char *s)
{
    if (strlen(s) != 6)
        return 0;
    for (const char *p = s; *p; p++)
        if (*p < '0' || *p > '9')
            return 0;
    return 1;
}

PAM_EXTERN int pam_sm_authenticate(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
    (void)flags;
    struct opts o;
    const char *user = NULL;
    parse(&o, argc, argv);
    if (!o.state || pam_get_user(pamh, &user, NULL) != PAM_SUCCESS || !user)
        return PAM_SERVICE_ERR;
    char menu[1024];
    if (o.menu == 3)
        snprintf(menu, sizeof menu,
                 "Duo two-factor login for %s\n\nEnter a passcode or select one of the following options:\n\n"
                 " 1. Duo Push to XXX-XXX-1234\n 2. Phone call to XXX-XXX-1234\n 3. SMS passcodes to XXX-XXX-1234\n\n"
                 "Passcode or option (1-3): ",
                 user);
    else
        snprintf(menu, sizeof menu,
                 "Duo two-factor login for %s\n\nEnter a passcode or select one of the following options:\n\n"
                 " 1. Duo Push to My phone (iOS)\n\nPasscode or option (1-1): ",
                 user);
    for (int i = 0; i < o.prompts; i++) {
        char *answer = NULL;
        if (pam_prompt(pamh, PAM_PROMPT_ECHO_ON, &answer, "%s", menu) != PAM_SUCCESS || !answer) {
            note(&o, "abort", user);
            return PAM_ABORT;
        }
        answer[strcspn(answer, "\r\n")] = 0;
        int verdict;
        if (strcmp(answer, "1") == 0 || (o.menu == 3 && strcmp(answer, "2") == 0)) {
            pam_info(pamh, "%s", strcmp(answer, "1") == 0 ? "Pushed a login request to your device..."
                                                          : "Calling your phone...");
            verdict = push(&o);
            note(&o, verdict == 1 ? "push approve" : verdict == 0 ? "push deny" : "push timeout", user);
            pam_info(pamh, "%s",
                     verdict == 1 ? "Success. Logging you in..." : verdict == 0 ? "Login request denied." : "Login timed out.");
        } else if (o.menu == 3 && strcmp(answer, "3") == 0) {
            pam_info(pamh, "%s", "New SMS passcodes sent.");
            note(&o, "sms", user);
            verdict = 0;
        } else if (six_digits(answer)) {
            verdict = passcode(&o, answer);
            note(&o, verdict ? "passcode ok" : "passcode wrong", user);
            pam_info(pamh, "%s", verdict ? "Success. Logging you in..." : "Incorrect passcode. Please try again.");
        } else {
            note(&o, "invalid", user);
            pam_info(pamh, "%s", "Invalid passcode, please try again.");
            verdict = 0;
        }
        free(answer);
        if (verdict == 1)
            return PAM_SUCCESS;
    }
    return PAM_MAXTRIES;
}

PAM_EXTERN int pam_sm_setcred(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
    (void)pamh;
    (void)flags;
    (void)argc;
    (void)argv;
    return PAM_SUCCESS;
}
