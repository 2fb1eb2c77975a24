"""Secrets in the shapes real configs, code and shell history hold them, each beside a near
miss of the same shape that must stay (made-up values throughout)."""

from __future__ import annotations

import pytest

from curate.pii import PiiConfig, scrub_records
from curate.records import Example
from tests.test_pii import placeholders

SENDGRID = "SG." + "ngeVfQFYQlKU0ufo8x5d1A" + "." + "TwL2iGABf9DHoTf-09kqeF8tAmbihYzrnopKc-1s5cr"

POSITIVES = [
    # a SendGrid key has a shape of its own: no name is needed before it
    (f"the key {SENDGRID} is in the repo", "the key <API_KEY> is in the repo"),
    # Go's MySQL driver writes the credentials of a DSN without a scheme
    ('dsn := "app:S3cretPw@tcp(127.0.0.1:3306)/shop?parseTime=true"', 'dsn := "<URL_CREDENTIALS>@tcp(127.0.0.1:3306)/shop?parseTime=true"'),
    ("sql.Open(\"mysql\", \"root:hunter22@unix(/tmp/mysql.sock)/db\")", "sql.Open(\"mysql\", \"<URL_CREDENTIALS>@unix(/tmp/mysql.sock)/db\")"),
    # htpasswd -b takes the password as its last argument
    ("htpasswd -bc /etc/nginx/.htpasswd admin Adm1nPass!", "htpasswd -bc /etc/nginx/.htpasswd admin <PASSWORD>"),
    ("sudo htpasswd -b -B .htpasswd ann s3cret99", "sudo htpasswd -b -B .htpasswd ann <PASSWORD>"),
    # Python's HTTP clients take (user, password) pairs
    ('requests.get(url, auth=("ann", "Pa55w0rd!"))', 'requests.get(url, auth=("ann", "<PASSWORD>"))'),
    ("session.auth = HTTPBasicAuth('ann', 'hunter22')", "session.auth = HTTPBasicAuth('ann', '<PASSWORD>')"),
    # the value in quotes straight after the word, with no colon or "is"
    ("I set my password 'Xk9#mm2q' yesterday", "I set my password '<PASSWORD>' yesterday"),
    ('use the password "Summer2024" for now', 'use the password "<PASSWORD>" for now'),
    # a secret written without quotes, signs in it
    ("SECRET=Xy7#pQ2! ./deploy.sh", "SECRET=<API_KEY> ./deploy.sh"),
    ("client_secret: aB3$kL9@mN2x", "client_secret: <API_KEY>"),
    # Kubernetes and Compose environments: a name, then its value
    ('env:\n- name: DB_PASSWORD\n  value: "Kub3rn3tes!"\n', 'env:\n- name: DB_PASSWORD\n  value: "<PASSWORD>"\n'),
    ('[{"name": "API_TOKEN", "value": "abc123def456ghi789"}]', '[{"name": "API_TOKEN", "value": "<API_KEY>"}]'),
    # Docker's config.json: base64 of user:password
    ('{"auths": {"registry.example.com": {"auth": "YW5uOlMzY3IzdFB3IQ=="}}}',
     '{"auths": {"registry.example.com": {"auth": "<API_KEY>"}}}'),
]

NEGATIVES = [
    f"the key SG.{'a' * 10} is too short; SG.Ops is a team",
    "root@tcp(127.0.0.1:3306)/db has no password; meet at 10:30@home(ish)",
    "Run htpasswd -c .htpasswd ann and type the password when asked; htpasswd -b needs more",
    'auth=("ann", os.environ["PW"]); auth=(user, password); HTTPBasicAuth(user, pw)',
    'the password "Enter your password" is a label; the password \'admin\' is a placeholder',
    "secret: true; SECRET_KEY=changeme; secret = get_secret(); token: ${{ secrets.GH_TOKEN }}",
    "client_secret: v1.2.3-beta; api_key: see #42; secret: 50%off",
    "- name: DB_PASSWORD\n  valueFrom:\n    secretKeyRef:\n      name: db\n- name: LOG_LEVEL\n  value: debug",
    '{"auth": "basic"}, {"auth": "dGVzdA=="}, {"auth": "oauth2"}',
]


@pytest.mark.parametrize(("text", "expected"), POSITIVES)
def test_secrets_become_typed_placeholders(text, expected):
    assert placeholders(text) == expected


@pytest.mark.parametrize("text", NEGATIVES)
def test_near_misses_of_secrets_survive_unchanged(text):
    assert placeholders(text) == text


def test_fields_all_takes_a_kept_columns_name_as_the_cue_for_its_secret():
    # a column named password held "hunter2": a plain word after no cue, so it went out as it was
    extra = {"password": "hunter2", "dbPassword": " Tr0ub4dor&3 ", "client-secret": "9f8e7d", "creds": {"api_key": "abc"},
             "old_passwords": ["winter", "spring"], "password_hint": "my cat", "token": "<s>", "token_count": "512",
             "secret": "********", "passcode": "", "note": "password: none"}
    records = [Example(instruction=f"Log in as user {i}.", meta={"extra": extra}) for i in range(600)]
    alone = list(scrub_records(records, PiiConfig(fields="all", workers=1)))
    assert alone == list(scrub_records(records, PiiConfig(fields="all", workers=2)))  # the workers' way too
    scrubbed, found = alone[0]
    assert scrubbed.meta["extra"] == {
        "password": "<PASSWORD>", "dbPassword": " <PASSWORD> ", "client-secret": "<API_KEY>", "creds": {"api_key": "<API_KEY>"},
        "old_passwords": ["<PASSWORD>", "<PASSWORD>"], "password_hint": "my cat", "token": "<s>", "token_count": "512",
        "secret": "********", "passcode": "", "note": "password: none"}
    assert {item.field for item in found} == {"meta.extra.password", "meta.extra.dbPassword", "meta.extra.client-secret",
                                              "meta.extra.creds.api_key", "meta.extra.old_passwords[0]",
                                              "meta.extra.old_passwords[1]"}
    default, _ = next(scrub_records(records[:1], PiiConfig()))
    assert default.meta["extra"] == extra  # --fields text leaves kept columns alone
