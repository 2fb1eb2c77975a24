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
    # (a review's snippets) camelCase names, as Helm values and JSON configs write them
    ("postgresql:\n  auth:\n    postgresPassword: Pg-Adm1n-7781\n", "postgresql:\n  auth:\n    postgresPassword: <PASSWORD>\n"),
    ("helm install db bitnami/mysql --set auth.rootPassword=Helm!Root9", "helm install db bitnami/mysql --set auth.rootPassword=<PASSWORD>"),
    ('{"jwtSecret": "myJwtS3cret2024xyz"}', '{"jwtSecret": "<API_KEY>"}'),
    # PASS as a variable's name or its last part, and redis-server's --requirepass
    ("DB_PASS=Sup3rS3cret! REDIS_PASS=R3dis99pw", "DB_PASS=<PASSWORD> REDIS_PASS=<PASSWORD>"),
    ("export PASS='P4ss!word'", "export PASS='<PASSWORD>'"),
    ("[db] ansible_ssh_pass=S5hPass!9", "[db] ansible_ssh_pass=<PASSWORD>"),
    ("command: redis-server --requirepass R3qPass!2024", "command: redis-server --requirepass <PASSWORD>"),
    # set in code: os.environ, Go's :=
    ('os.environ["DB_PASSWORD"] = "Kx9!mQ2z"', 'os.environ["DB_PASSWORD"] = "<PASSWORD>"'),
    ('os.environ.setdefault("DB_PASSWORD", "Kx9!mQ2z")', 'os.environ.setdefault("DB_PASSWORD", "<PASSWORD>")'),
    ('password := "Gopher2024!"', 'password := "<PASSWORD>"'),
    # chat: "is:", "to", and a token "is"
    ("the password is: Kitten77", "the password is: <PASSWORD>"),
    ("I set the password to Hunter2024! but login still fails", "I set the password to <PASSWORD> but login still fails"),
    ("The token is 7f3e9a1c2b4d6f8e0a1c3e5f7a9b1d3e", "The token is <API_KEY>"),
    # an empty user before the password (Redis), a quoted password with a space after -p, a Gmail app password
    ("REDIS_URL=redis://:R3disPw77@redis:6379/0", "REDIS_URL=redis://<URL_CREDENTIALS>@redis:6379/0"),
    ("mysql -uroot -p\"R00t Pass\"", "mysql -uroot -p\"<PASSWORD>\""),
    ('MAIL_PASSWORD="abcd efgh ijkl mnop"', 'MAIL_PASSWORD="<PASSWORD>"'),
    ("the password is: kitten-Paw-77", "the password is: <PASSWORD>"),
    # more command lines, client logins, and keys with shapes or names of their own
    ("mongosh mongodb://db:27017 -u admin -p M0ngoPw99 --quiet", "mongosh mongodb://db:27017 -u admin -p <PASSWORD> --quiet"),
    ("sqlcmd -S db.local -U sa -P 'Sql$erver2022' -Q x", "sqlcmd -S db.local -U sa -P '<PASSWORD>' -Q x"),
    ("ldapsearch -x -D cn=admin -w LdapPw99 -b dc=org", "ldapsearch -x -D cn=admin -w <PASSWORD> -b dc=org"),
    ("openssl pkcs12 -export -out c.p12 -passout pass:Op3nSsl!", "openssl pkcs12 -export -out c.p12 -passout pass:<PASSWORD>"),
    ('ftp.login("ftpuser", "Ftp#2024"); pika.PlainCredentials(\'svc\', \'Rabb1tPw!\')',
     'ftp.login("ftpuser", "<PASSWORD>"); pika.PlainCredentials(\'svc\', \'<PASSWORD>\')'),
    ("machine api.example.com\n  login deploy\n  password 0a1b2c3d4e5f6a7b\n", "machine api.example.com\n  login deploy\n  password <PASSWORD>\n"),
    ("wandb login 3f2a9c1b8e7d6f5a4b3c2d1e0f9a8b7c6d5e4f3a", "wandb login <API_KEY>"),
    ("AccountName=acct01;AccountKey=Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MGFiY2RlZmdoaWprbG1ub3A=;EndpointSuffix=x",
     "AccountName=acct01;AccountKey=<API_KEY>;EndpointSuffix=x"),
    ("//nexus.corp/repository/npm/:_auth=YWRtaW46TmV4dXMxMjM=", "//nexus.corp/repository/npm/:_auth=<API_KEY>"),
    ("API密钥：a1b2c3d4e5f6g7h8i9j0k1l2", "API密钥：<API_KEY>"),
    ("https://hooks.slack.com/services/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", "https://<API_KEY>"),
    ("https://api.telegram.org/bot6123456789:AAHk2Lm9Pz4Xv8Rt3Wn6Bc1YdFg5Js0UaKe/sendMessage",
     "https://api.telegram.org/bot<API_KEY>/sendMessage"),
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
    # (a review's snippets) templates and placeholders where credentials would be
    "DATABASE_URL=postgres://${DB_USER}:${DB_PASS}@db:5432/app",
    'psql "postgresql://$PGUSER:$PGPASSWORD@$PGHOST/$PGDATABASE"',
    'url = f"postgresql://{user}:{password}@{host}:5432/{db}"',
    'fmt.Sprintf("%s:%s@tcp(%s:3306)/%s", user, pass, host, name)',
    "postgresql://username:password@host:5432/database and mongodb+srv://<username>:<password>@cluster0.mongodb.net/",
    "The DSN format is user:password@tcp(localhost:3306)/dbname; postgres://user:pass@localhost/db; mysql://USER:PASSWORD@HOST:PORT/DB",
    # variables whose names only hold a secret's word, and placeholders for values
    "  - name: TOKEN_CACHE_DIR\n    value: /var/cache/tokens\n  - name: SECRET_NAME\n    value: db-credentials",
    "  - name: JWT_TOKEN_EXPIRY\n    value: \"15m\"\n  - name: POSTGRES_PASSWORD_FILE\n    value: /run/secrets/pg",
    "  - name: API_KEY\n    value: YOUR_API_KEY\n  - name: DB_PASSWORD\n    value: <changeme>",
    'token_url = "https://oauth2.googleapis.com/token"; token: YOUR_TOKEN_HERE_123',
    # prose around the new cues
    "I forgot the password to my account; a boarding pass: gate 12; pass=true; userPassword: string",
    "getPassword(); the password is case-sensitive; the token is valid for 3600 seconds",
    "login(user, password); ldapsearch -x -w; mongosh -p; the machine learning login page; sqlcmd -P $PW",
]


@pytest.mark.parametrize(("text", "expected"), POSITIVES)
def test_secrets_become_typed_placeholders(text, expected):
    assert placeholders(text) == expected


@pytest.mark.parametrize("text", NEGATIVES)
def test_near_misses_of_secrets_survive_unchanged(text):
    assert placeholders(text) == text


@pytest.mark.parametrize("text", ["value name: " + "PASSWORD_" * 20_000, "name: " + "X_PASSWORD_" * 20_000 + "\nvalue: x"])
def test_a_variables_name_made_of_its_secret_word_again_and_again_takes_linear_time(text):
    """Any repeat could be the secret's word, and each was tried: 200 KB took 132 s (the bound
    is loose: this asserts the complexity, not a speed)."""
    import time

    start = time.process_time()
    placeholders(text)
    assert time.process_time() - start < 10


def test_fields_all_takes_a_kept_columns_name_as_the_cue_for_its_secret():
    # a column named password held "hunter2": a plain word after no cue, so it went out as it was
    extra = {"password": "hunter2", "dbPassword": " Tr0ub4dor&3 ", "client-secret": "9f8e7d", "creds": {"api_key": "abc"},
             "old_passwords": ["winter", "spring"], "pin_passcode": "4821", "smtp": {"password": {"value": "Tr0ub"}},
             "github_token": "abcdef",
             # (a review's) names that only hold a secret's word, flags, tokenizer settings, masks, empties
             "password_hint": "my cat", "token": "<s>", "eos_token": "</s>", "max_tokens": "512", "token_count": "512",
             "is_secret": "N", "has_password": "N", "requires_password": "optional", "secret": "********",
             "passcode": "", "password_set": "true", "note": "password: none"}
    records = [Example(instruction=f"Log in as user {i}.", meta={"extra": extra}) for i in range(600)]
    alone = list(scrub_records(records, PiiConfig(fields="all", workers=1)))
    assert alone == list(scrub_records(records, PiiConfig(fields="all", workers=2)))  # the workers' way too
    scrubbed, found = alone[0]
    kept = {key: value for key, value in extra.items() if key.startswith(("password_", "token", "eos", "max", "is_", "has",
                                                                          "requires", "secret", "passcode", "note"))}
    assert scrubbed.meta["extra"] == {
        "password": "<PASSWORD>", "dbPassword": " <PASSWORD> ", "client-secret": "<API_KEY>", "creds": {"api_key": "<API_KEY>"},
        "old_passwords": ["<PASSWORD>", "<PASSWORD>"], "pin_passcode": "<PASSWORD>", "smtp": {"password": {"value": "<PASSWORD>"}},
        "github_token": "<API_KEY>", **kept}
    assert {item.field for item in found} == {
        "meta.extra.password", "meta.extra.dbPassword", "meta.extra.client-secret", "meta.extra.creds.api_key",
        "meta.extra.old_passwords[0]", "meta.extra.old_passwords[1]", "meta.extra.pin_passcode",
        "meta.extra.smtp.password.value", "meta.extra.github_token"}
    default, _ = next(scrub_records(records[:1], PiiConfig()))
    assert default.meta["extra"] == extra  # --fields text leaves kept columns alone
