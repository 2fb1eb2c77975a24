import json
import re
from pathlib import Path

import pytest
from pydantic import ValidationError

from curate.errors import UsageError
from curate.io import read_records
from curate.sinks import write_records
from curate.pii import PiiConfig, PiiScrubber, find_pii, scrub, scrub_records
from curate.records import Example, Preference
from tests.conftest import write_jsonl

JWT = ("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4ifQ"
       ".SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c")  # jwt.io's example token
PEM = "-----BEGIN RSA PRIVATE KEY-----\nMIIBOgIBAAJBAKj34GkxFhD90vcNLYLInFEX\n-----END RSA PRIVATE KEY-----"

# (text, the text with placeholders): English and Chinese, one or more types each
POSITIVES = [
    ("Write to john.doe+news@mail.example.co.uk today.", "Write to <EMAIL> today."),
    ("邮箱是zhang.san@example.cn，谢谢。", "邮箱是<EMAIL>，谢谢。"),
    ("Call +1 415-555-2671 or (650) 253-0000.", "Call <PHONE> or <PHONE>."),
    ("London office: +44 20 7946 0958.", "London office: <PHONE>."),
    ("Lifeline (1-800-273-8255) is free.", "Lifeline (<PHONE>) is free."),  # the bracket is the text's
    ("手机13812345678，或者+86 138 1234 5678。", "手机<PHONE>，或者<PHONE>。"),
    ("座机010-62345678", "座机<PHONE>"),
    ("手机１３８１２３４５６７８，邮箱ａｂｃ＠ｅｘａｍｐｌｅ．ｃｏｍ", "手机<PHONE>，邮箱<EMAIL>"),  # full width
    ("身份证号：11010519491231002X。", "身份证号：<CN_ID>。"),
    ("ID 110105199003071239 on file", "ID <CN_ID> on file"),
    ("Card 4111 1111 1111 1111 exp 12/29", "Card <CARD> exp 12/29"),
    ("卡号5500-0000-0000-0004，银联6222021234567890128", "卡号<CARD>，银联<CARD>"),
    ("ping 192.168.1.10.", "ping <IP>."),
    ("IPv6 2001:db8::8a2e:370:7334 and fe80::1ff:fe23:4567:890a", "IPv6 <IP> and <IP>"),
    ("git clone https://alice:s3cret@git.example.com/repo.git",
     "git clone https://<URL_CREDENTIALS>@git.example.com/repo.git"),
    ("OPENAI_API_KEY=sk-proj-abc123DEF456ghi789JKL012mno", "OPENAI_API_KEY=<API_KEY>"),
    ("key sk-1234567890abcdefghijklmn and AKIAIOSFODNN7EXAMPLE", "key <API_KEY> and <API_KEY>"),
    ("token ghp_" + "a1B2" * 9 + " or github_pat_" + "11ABCDEFG0" * 4, "token <API_KEY> or <API_KEY>"),
    ("slack xoxb-123456789012-abcdefABCDEF done", "slack <API_KEY> done"),
    # a bare number is a phone after a word for one, or when it is a whole valid number
    ("Call 3109595 now, or reach me on 4155550198 anytime.", "Call <PHONE> now, or reach me on <PHONE> anytime."),
    ("我的手机13812345678", "我的手机<PHONE>"),
    # a Google key, and an AWS secret key after the word for it (walk-through: both were left in)
    ("api_key='AIzaSyD-1234567890abcdefghijklmnopqrstu'", "api_key='<API_KEY>'"),
    ("AWS key AKIAIOSFODNN7EXAMPLE secret wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
     "AWS key <API_KEY> secret <API_KEY>"),
    ('aws_secret_access_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"', 'aws_secret_access_key = "<API_KEY>"'),
    # tokens of other services, tokens and passwords after the word for them (walk-through: all left in)
    ("HF_TOKEN=hf_" + "aB3d" * 9 + ", gitlab glpat-" + "x1Y2z3" * 4, "HF_TOKEN=<API_KEY>, gitlab <API_KEY>"),
    ("Authorization: Bearer " + JWT, "Authorization: Bearer <API_KEY>"),
    ("curl -H 'Authorization: Bearer abcdef0123456789ghij' url", "curl -H 'Authorization: Bearer <API_KEY>' url"),
    ("api_key = 'a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6'", "api_key = '<API_KEY>'"),
    ("client_secret: 9f8e7d6c5b4a3f2e1d0c", "client_secret: <API_KEY>"),
    ("password: hunter2hunter2", "password: <PASSWORD>"),
    ("My password is Tr0ub4dor&3.", "My password is <PASSWORD>."),
    ('{"user": "ann", "password": "Summer2024!"}', '{"user": "ann", "password": "<PASSWORD>"}'),
    ("PASSWORD=Xy9!k2mQ ./run.sh", "PASSWORD=<PASSWORD> ./run.sh"),
    ("mysql -u root -pS3cr3t -h db.internal", "mysql -u root -p<PASSWORD> -h db.internal"),
    ("pg_dump --password=Pa55word shop", "pg_dump --password=<PASSWORD> shop"),
    ("我的密码是qwe123456，别告诉别人", "我的密码是<PASSWORD>，别告诉别人"),
    ("WiFi密码：abc12345", "WiFi密码：<PASSWORD>"),
    # names of variables that end in one (review: none was a cue), and more command lines
    ("export DB_PASSWORD=Sup3rS3cret! PGPASSWORD=s3cr3t", "export DB_PASSWORD=<PASSWORD> PGPASSWORD=<PASSWORD>"),
    ('POSTGRES_PASSWORD: Exampl3Pass\n"password_confirmation": "secret12"',
     'POSTGRES_PASSWORD: <PASSWORD>\n"password_confirmation": "<PASSWORD>"'),
    ("GITHUB_TOKEN=abc123def456ghi789jkl012 OPENAI_API_KEY=abc123def456ghi789jkl012",
     "GITHUB_TOKEN=<API_KEY> OPENAI_API_KEY=<API_KEY>"),
    ("AWS_SESSION_TOKEN=FwoGZXIvYXdzEJr//////////wEaDH7", "AWS_SESSION_TOKEN=<API_KEY>"),
    ("Authorization: Basic dXNlcjpwYXNzd29yZDEyMw==", "Authorization: Basic <API_KEY>"),
    ("sshpass -p 'Qwerty123' ssh host; redis-cli -h h -a S3cretPass1 ping",
     "sshpass -p '<PASSWORD>' ssh host; redis-cli -h h -a <PASSWORD> ping"),
    ("Pwd: Qwerty123; 密碼：Qwerty123; 密码是：Abc@2024", "Pwd: <PASSWORD>; 密碼：<PASSWORD>; 密码是：<PASSWORD>"),
    ("client_secret: 9f8e7d6c-5b4a-3f2e-1d0c-9b8a7f6e5d4c", "client_secret: <API_KEY>"),
    # a Chinese password with Chinese text right after it, or no mark before it (second walk-through)
    ("我的密码是abc12345请帮我记住；用户名admin密码admin123", "我的密码是<PASSWORD>请帮我记住；用户名admin密码<PASSWORD>"),
    ("WiFi密码是88886666谢谢", "WiFi密码是<PASSWORD>谢谢"),
    ("Authorization: token 0123456789abcdef0123456789abcdef01234567", "Authorization: token <API_KEY>"),
    # a quoted value takes any sign; SQL, curl and docker login give passwords their own way
    ("SECRET_KEY = 'django-insecure-8h#2k!x9@qz$w7e3r5t1y0u'", "SECRET_KEY = '<API_KEY>'"),
    ('password="p@ss word"', 'password="<PASSWORD>"'),
    ("CREATE USER 'app'@'localhost' IDENTIFIED BY 'SqlUs3r!pw'; ALTER USER pg WITH PASSWORD 'pgAlt3r#99';",
     "CREATE USER 'app'@'localhost' IDENTIFIED BY '<PASSWORD>'; ALTER USER pg WITH PASSWORD '<PASSWORD>';"),
    ("curl -s -u admin:Curl#Pw99 https://api.example.com", "curl -s -u admin:<PASSWORD> https://api.example.com"),
    ("docker login -u me -p D0ck3rHubPw! registry.example.com", "docker login -u me -p <PASSWORD> registry.example.com"),
    (f"key:\n{PEM}\nend", "key:\n<PRIVATE_KEY>\nend"),
    ("Hi, my name is Alice Wong and I need help.", "Hi, my name is <PERSON> and I need help."),
    ("Name: Bob Stone\nEmail: bob@stone.io", "Name: <PERSON>\nEmail: <EMAIL>"),
    ("Dear Maria, thanks. Kind regards,\nPeter Miller", "Dear <PERSON>, thanks. Kind regards,\n<PERSON>"),
    ("Thanks,\nPeter", "Thanks,\n<PERSON>"),  # a one-word sign-off on the next line
    ("Name:Bob Lee, Customer:Maria Lopez", "Name:<PERSON>, Customer:<PERSON>"),  # glued to the cue
    ("Hi,Ann! Ask O'Brien,Dr. Lee.", "Hi,<PERSON>! Ask O'Brien,<PERSON>."),  # a title makes a name
    ("Name: Leonardo DiCaprio. Leonardo DiCaprio's agent", "Name: <PERSON>. <PERSON>'s agent"),  # a capital inside
    ("我叫王小明，今年二十岁。", "我叫<PERSON>，今年二十岁。"),
    ("姓名：李雷性别：男", "姓名：<PERSON>性别：男"),
    ("我是张伟，来自北京。", "我是<PERSON>，来自北京。"),
    # no cue: jieba tags these nr inside a sentence
    ("昨天王小明和李华去了图书馆，经理赵建国批准了。", "昨天<PERSON>和<PERSON>去了图书馆，经理<PERSON>批准了。"),
    ("请联系陈静女士或者李先生。", "请联系<PERSON>女士或者<PERSON>先生。"),
    ("明天和王总开会。", "明天和<PERSON>开会。"),  # 总 (boss) ends the name; 开会 is a verb
    ("李先生说行李在这里，陈静也在。陈静很忙。", "<PERSON>先生说行李在这里，<PERSON>也在。<PERSON>很忙。"),
]

# Near misses: every one must come back unchanged.
NEGATIVES = [
    "身份证号110105199003071238，校验位错了。",  # bad check digit
    "号码110105194902300020的出生日期是2月30日。",  # checksum fine, no such birth date
    "Card 4111 1111 1111 1112 fails Luhn.",
    "Version 1.2.3.4.5 and 999.1.1.1 are not addresses; nor is 12:30:45 or 00:1A:2B:3C:4D:5E.",
    "Use sk-learn, a task-scheduler and ask-me-anything-sessions; sk-this-is-not-a-real-secret-key.",
    "AKIA1234 is too short, ghp_short too.",
    "Order #1234567890 shipped; order number 6502530000 too.",
    "订单号：4829103756，请查收。",
    "Meeting on 2024-01-15 at 10:30 in room 1203; timestamp 1700000000000.",
    "Dear Sir or Madam, file name: Report.pdf",
    "Hello, World! Print Hello World in Python.",
    "Dear YouTube team, I'm JavaScript-savvy.",
    "Install version 1.2.3.4 of the package; release 4.3.2.1 too.",
    "我是学生。如何提高学习效率？方法很重要，我们马上开始。",
    "叶子在秋天变成了金黄色，顾客很高兴。胡萝卜和石狮子也不是人名。",  # jieba's dictionary tags them all nr
    "Contact https://example.com/path?user=me for more.",
    # a repository's address, every machine's own addresses, and a network (walk-through)
    "git clone git@github.com:acme/widgets.git",
    "Bind to host='0.0.0.0', then open 127.0.0.1:8000 or [::1]:8000.",
    "Allow the 192.168.0.0/16 subnet and 2001:db8::/32.",
    "The secret sauce is patience, and the secret key to it is practice.",
    # quantities: a bare run of digits too short for a whole number, in a sum, or with a unit
    # (walk-through: each became <PHONE>)
    "Compute 3109595 * 2.",
    "What is 6505550133 modulo 7?",
    "The population was 3109595 in 2020.",
    "The file has 4155550198 bytes.",
    "共计13912345678元",
    # no card starts inside a run of four-digit groups (walk-through: "Order 1234 <CARD>")
    "Order 1234 5678 9012 3456 was placed.",
    # the words for a password or a token with no secret after them, or code where one would be
    "The password is incorrect. What makes a strong password? Reset your password: click the link.",
    "password: ******** (hidden); passwords must have 8 characters; pwd prints the working directory",
    'password = input("Password: "); password=os.environ["DB_PASS"]; if password == confirm_password: pass',
    "def login(user, password: str): return check(password=self.password, token=tokenizer.encode(text))",
    "The token count is 512; access token expires in 3600 seconds; api_key = os.getenv('OPENAI_API_KEY')",
    "Authorization: Bearer {token}; mysql -u root -p; 密码错误，请重试",
    # rules for passwords, other command lines, shell variables, paths and names of things (review)
    "密码为6-16位字母和数字组合；支付密码为6位数字；请设置密码：至少8位，包含大小写字母；Password: 6~20位; password: 8-16",
    "mysql vs postgres - pros and cons of -pgbouncer; install mysql-server then run with -profile dev",
    "mysql -u$USER -p$PASS $DB; mysqldump -uroot -p\"${MYSQL_PWD}\"; --password=$DB_PASS",
    "'password' => 'required|string|min:8|confirmed', WHERE password = :password, password: !vault |",
    "pwd: /home/user/project; /etc/passwd: root:x:0:0:root:/root:/bin/bash",
    "New password: ••••••••; password: ***redacted***",
    "token: ./secrets/token2.txt; api_key: path/to/keyfile_v1.json; token: meta-llama/Llama-2-7b-hf",
    'api_key: gpt-4o-2024-08-06; "token": "model.layers.0.self_attn.q_proj"; token=the_quick_brown_fox_2',
    # hyphenated words after "password is" or "password:" (second walk-through: all were scrubbed)
    "The password is case-sensitive; the password is SHA-256 hashed, user-defined and 2FA-protected; password: see-above",
    "Use --password=<your password> when connecting: mysql --user=root --password mydb",
    'password = "Enter your password"; label="Password", password=""; curl -u $USER:$PASS url',
    'SECRET_KEY = os.environ["SECRET_KEY"]; token = "the_quick_brown_fox_2"; password: "${DB_PASSWORD}"',
]


def placeholders(text: str, **config: object) -> str:
    record, _ = PiiScrubber(PiiConfig(**config))(Example(instruction=text))
    return record.instruction


@pytest.mark.parametrize(("text", "expected"), POSITIVES)
def test_positives_become_typed_placeholders(text, expected):
    assert placeholders(text) == expected


@pytest.mark.parametrize("text", NEGATIVES)
def test_near_misses_survive_unchanged(text):
    assert find_pii(text) == []
    record = Example(instruction=text)
    scrubbed, found = PiiScrubber()(record)
    assert (scrubbed, found) == (record, [])  # the same record, no meta.pii key


def test_spans_are_sorted_non_overlapping_and_the_credential_beats_the_email_inside_it():
    text = "see https://bob:pw@host.example.com and mail bob@example.com"
    spans = find_pii(text)
    assert [(s.type, text[s.start:s.end]) for s in spans] == [("URL_CREDENTIALS", "bob:pw"),
                                                              ("EMAIL", "bob@example.com")]


def test_a_name_is_replaced_wherever_it_recurs_in_the_record():
    record = Example(system="You help Alice Wong.", instruction="My name is Alice Wong.",
                     output="Hello Alice Wong! MAlice Wongs is another word.")
    scrubbed, _ = PiiScrubber()(record)
    assert (scrubbed.system, scrubbed.instruction) == ("You help <PERSON>.", "My name is <PERSON>.")
    assert scrubbed.output == "Hello <PERSON>! MAlice Wongs is another word."  # whole words only


def test_numbered_mode_is_consistent_across_fields_and_history():
    record = Example(
        system="Assistant for Alice Wong.",
        history=[("我叫王小明，邮箱a@x.com", "你好王小明，已记下a@x.com。")],
        instruction="My name is Alice Wong; write to A@X.com and b@y.org.",
        input="CC a@x.com",
        output="Done, Alice Wong: b@y.org, then 13812345678 and +86 138 1234 5678.",
    )
    scrubbed, found = PiiScrubber(PiiConfig(mode="numbered"))(record)
    assert scrubbed.system == "Assistant for <PERSON_1>."
    assert scrubbed.history == [("我叫<PERSON_2>，邮箱<EMAIL_1>", "你好<PERSON_2>，已记下<EMAIL_1>。")]
    assert scrubbed.instruction == "My name is <PERSON_1>; write to <EMAIL_1> and <EMAIL_2>."
    assert scrubbed.input == "CC <EMAIL_1>"
    assert scrubbed.output == "Done, <PERSON_1>: <EMAIL_2>, then <PHONE_1> and <PHONE_1>."
    assert placeholders("a@x.com, ａ＠ｘ．ｃｏｍ, 138 1234 5678", mode="numbered") == "<EMAIL_1>, <EMAIL_1>, <PHONE_1>"
    assert scrubbed.meta["pii"] == {"EMAIL": 6, "PERSON": 5, "PHONE": 2}
    assert [f.field for f in found][:3] == ["system", "history[0].user", "history[0].user"]
    # numbering restarts with each record
    again, _ = PiiScrubber(PiiConfig(mode="numbered"))(Example(instruction="mail b@y.org"))
    assert again.instruction == "mail <EMAIL_1>"


def test_a_name_with_a_title_or_a_suffix_is_one_person_with_the_name_alone():
    # the title is inside the span, so Mr. John Smith and John Smith were two people
    record = Example(instruction="Mr. John Smith called. John Smith said hi; Dr. Ann Lee, MD, too.",
                     output="Thanks, John Smith. Ann Lee will call back.")
    scrubbed, _ = PiiScrubber(PiiConfig(mode="numbered"))(record)
    assert scrubbed.instruction == "<PERSON_1> called. <PERSON_1> said hi; <PERSON_2>, too."
    assert scrubbed.output == "Thanks, <PERSON_1>. <PERSON_2> will call back."
    hashed, _ = PiiScrubber(PiiConfig(mode="hash", salt="pepper"))(record)
    assert len(set(re.findall(r"<PERSON:\w+>", hashed.instruction + hashed.output))) == 2
    # but a title with a surname alone, or a generation, tells people apart (review)
    assert placeholders("Mr. Smith called, then Mrs. Smith called.", mode="numbered") == \
        "<PERSON_1> called, then <PERSON_2> called."
    assert placeholders("John Smith Jr. met John Smith Sr. and John Smith.", mode="numbered") == \
        "<PERSON_1>. met <PERSON_2>. and <PERSON_3>."


def test_mask_mode_keeps_the_length():
    assert placeholders("Mail a@b.co or call 13812345678.", mode="mask") == "Mail ****** or call ***********."


def test_hash_mode_is_salted_and_equal_for_equal_values():
    config = PiiConfig(mode="hash", salt="pepper")
    first, _ = PiiScrubber(config)(Example(instruction="mail Ann@x.com", output="again ann@x.com, not bo@x.com"))
    tag = first.instruction.removeprefix("mail ")
    assert len(tag) == len("<EMAIL:12345678>") and tag.startswith("<EMAIL:")
    assert first.output == f"again {tag}, not " + first.output.rsplit(" ", 1)[1]
    assert first.output.rsplit(" ", 1)[1] != tag
    other_record, _ = PiiScrubber(config)(Example(instruction="cc ann@x.com"))
    assert other_record.instruction == f"cc {tag}"  # the same across records: joins still work
    other_salt, _ = PiiScrubber(PiiConfig(mode="hash", salt="salt"))(Example(instruction="mail ann@x.com"))
    assert other_salt.instruction != first.instruction


def test_hash_mode_without_a_salt_is_refused():
    with pytest.raises(ValidationError, match="salt"):
        PiiConfig(mode="hash")


def test_a_salt_without_hash_mode_is_refused_not_ignored():
    with pytest.raises(ValidationError, match="mode 'hash' only, and mode is 'numbered'"):
        PiiConfig(mode="numbered", salt="pepper")
    with pytest.raises(ValidationError, match="mode 'hash' only, and mode is 'placeholder'"):
        PiiConfig(salt="pepper")  # the default mode


def test_types_accept_a_comma_separated_string_and_limit_detection():
    config = PiiConfig(types="email, phone")
    assert config.types == ["EMAIL", "PHONE"]
    text = "My name is Alice Wong, alice@x.com, 13812345678, 192.168.1.10"
    assert placeholders(text, types="email,phone") == "My name is Alice Wong, <EMAIL>, <PHONE>, 192.168.1.10"
    with pytest.raises(ValidationError, match="unknown type HEIGHT; choose from"):
        PiiConfig(types="email,height")


def test_names_off_keeps_names():
    assert placeholders("我叫王小明。My name is Alice Wong.", names=False) == "我叫王小明。My name is Alice Wong."


def test_person_with_names_off_is_refused_not_silently_empty():
    with pytest.raises(ValidationError, match="--types asks for PERSON, but names are off"):
        PiiConfig(types="person,email", names=False)
    with pytest.raises(ValidationError, match="--drop asks for PERSON"):
        PiiConfig(drop="person", names=False)
    assert PiiConfig(types="email", names=False).wanted() == {"EMAIL"}


def test_a_missing_spacy_model_is_a_clear_error():
    with pytest.raises(UsageError, match="spacy_model 'xx_no_such_model'.*(not installed)"):
        find_pii("My name is Alice.", PiiConfig(spacy_model="xx_no_such_model"))


def test_preference_records_scrub_every_answer():
    pair = Preference(instruction="Email for Bob?", chosen="bob@x.com", rejected="It is bob@x.com.",
                      meta={"judge": {"score": 5}})
    scrubbed, found = PiiScrubber(PiiConfig(mode="numbered"))(pair)
    assert (scrubbed.chosen, scrubbed.rejected) == ("<EMAIL_1>", "It is <EMAIL_1>.")
    assert scrubbed.meta == {"judge": {"score": 5}, "pii": {"EMAIL": 2}}
    assert scrubbed.id == scrubbed.derived_id() != pair.id  # see the test below
    assert found[0]._asdict() == {"field": "chosen", "type": "EMAIL", "start": 0, "end": 9}

    ranked = Preference(instruction="Key?", history=[("Hi 13812345678", "Hello")],
                        responses=["none", "AKIAIOSFODNN7EXAMPLE", "10.0.0.1"], ranking=[1, 0, 2])
    scrubbed, _ = PiiScrubber()(ranked)
    assert scrubbed.responses == ["none", "<API_KEY>", "<IP>"]
    assert scrubbed.history == [("Hi <PHONE>", "Hello")]
    assert scrubbed.ranking == [1, 0, 2]


def test_an_id_made_from_the_content_is_made_again_from_the_scrubbed_content():
    # the old id hashes the phone number: hashing every number with the rest of the text finds it
    first, second = (Example(instruction=f"Call me at 415-555-{n}") for n in ("0123", "0124"))
    (one, _), (two, _) = PiiScrubber()(first), PiiScrubber()(second)
    assert first.id != second.id and one.id == two.id == one.derived_id() and one.id not in (first.id, second.id)
    assert PiiScrubber()(Example(id="ticket-7", instruction="Call me at 415-555-0123"))[0].id == "ticket-7"
    nothing = Example(instruction="Nothing personal here")
    assert PiiScrubber()(nothing)[0] is nothing


def test_found_offsets_point_into_the_original_text():
    record = Example(instruction="x", output="Mail a@b.co, IP 10.0.0.1")
    _, found = PiiScrubber()(record)
    assert [(f.field, f.type, record.output[f.start:f.end]) for f in found] == [
        ("output", "EMAIL", "a@b.co"), ("output", "IP", "10.0.0.1")]


def test_scrub_round_trip_with_report(tmp_path):
    values = ["alice@example.com", "13812345678", "11010519491231002X", "王小明", "sk-proj-abc123DEF456ghi789JKL012"]
    rows = [
        {"question": "My email is alice@example.com, phone 13812345678.", "answer": "Noted."},
        {"question": "Nothing to see here.", "answer": "Indeed.", "meta": {"judge": {"score": 4}}},
        {"question": "我叫王小明，身份证11010519491231002X。", "answer": "好的，王小明。"},
        {"question": "Rotate sk-proj-abc123DEF456ghi789JKL012 please", "answer": "Done."},
    ]
    source = write_jsonl(tmp_path / "in.jsonl", rows)
    out, report = tmp_path / "out.jsonl", tmp_path / "report.jsonl"
    summary = scrub(source, out, PiiConfig(mode="numbered"), report=report,
                    mapping={"question": "instruction", "answer": "output"})
    assert (summary.read, summary.written) == (4, 4)
    assert summary.counts["records_with_pii"] == 3
    assert summary.counts["replaced:PERSON"] == 2
    assert summary.as_dict()["counts"]["replaced:PERSON"] == 2
    back = list(read_records(out))
    assert [r.instruction for r in back] == [
        "My email is <EMAIL_1>, phone <PHONE_1>.", "Nothing to see here.", "我叫<PERSON_1>，身份证<CN_ID_1>。",
        "Rotate <API_KEY_1> please"]
    assert back[2].output == "好的，<PERSON_1>。"
    assert [r.meta.get("pii") for r in back] == [{"EMAIL": 1, "PHONE": 1}, None, {"CN_ID": 1, "PERSON": 2},
                                                 {"API_KEY": 1}]
    assert back[1].meta == {"judge": {"score": 4}}
    text = report.read_text(encoding="utf-8")
    assert not [value for value in values if value in text]
    lines = [json.loads(line) for line in text.splitlines()]
    assert [(line["record"], line["id"]) for line in lines] == [(1, back[0].id), (3, back[2].id), (4, back[3].id)]
    assert lines[0] == {"record": 1, "id": back[0].id, "pii": {"EMAIL": 1, "PHONE": 1}, "spans": [
        {"field": "instruction", "type": "EMAIL", "start": 12, "end": 29},
        {"field": "instruction", "type": "PHONE", "start": 37, "end": 48}]}
    output_text = out.read_text(encoding="utf-8")
    assert not [value for value in values if value in output_text]


def test_workers_give_the_same_records_in_the_same_order(examples):
    records = [Example(instruction=f"Record {i}: mail user{i}@x.com, 我叫王小明。") for i in range(600)] + examples
    alone = list(scrub_records(records, PiiConfig(mode="numbered", workers=1)))
    together = list(scrub_records(records, PiiConfig(mode="numbered", workers=2)))
    assert together == alone
    assert together[7][0].instruction == "Record 7: mail <EMAIL_1>, 我叫<PERSON_1>。"


@pytest.mark.parametrize("mode", ["placeholder", "numbered", "mask", "hash"])
@pytest.mark.parametrize("fields", ["text", "all"])
def test_workers_replace_every_field_as_one_process_does(mode, fields):
    # workers send back replaced texts by position in the record's list of texts; every field
    # must land where it came from, numbered as one record
    def record(i: int) -> Example | Preference:
        mail, phone = f"ann{i}@x.com", f"+1 415-555-{2600 + i % 100:04d}"
        if i % 3 == 0:
            return Preference(instruction=f"Hi, I'm Ann Lee, {mail}", chosen=f"Sure, Ann Lee: {phone}",
                              rejected=f"No, {mail}", user_id=mail if mode == "hash" else f"u{i}",  # others refuse it
                              meta={"extra": {"note": f"call {phone}", "n": i}})
        return Example(system=f"Mail {mail}", history=[(f"Call {phone}", "ok"), ("and you?", f"me: {mail}")],
                       instruction=f"Dear Bob, {phone}", input="", output=f"Bob wrote to {mail}", user_id=f"u{i}")

    records = [record(i) for i in range(700)]
    config = dict(mode=mode, fields=fields, salt="s" if mode == "hash" else None)
    alone = list(scrub_records(records, PiiConfig(**config, workers=1)))
    together = list(scrub_records(records, PiiConfig(**config, workers=2)))
    assert together == alone
    assert all(found for _, found in alone)


def test_chunks_from_the_workers_come_out_in_input_order_and_none_is_scrubbed_here(monkeypatch):
    # the workers scrub every chunk (this process scrubbing some kept its pool's threads from the
    # GIL, and the workers idle): many small chunks must come back in input order, as one process gives them
    import curate.pii as pii

    monkeypatch.setattr(pii, "CHUNK", 8)
    here = []
    scrub_one = PiiScrubber.__call__
    monkeypatch.setattr(PiiScrubber, "__call__", lambda self, record: here.append(record.id) or scrub_one(self, record))
    records = [Example(instruction=f"Record {i}: call +1 415-555-{2600 + i % 100:04d} or mail ann{i}@x.com, Ann Lee")
               for i in range(1500)]
    together = list(scrub_records(records, PiiConfig(mode="numbered", workers=2)))
    assert here == []
    alone = list(scrub_records(records, PiiConfig(mode="numbered", workers=1)))
    assert together == alone and len(here) == len(records)


def test_scrub_checks_file_types_before_reading(tmp_path, examples):
    source = tmp_path / "in.jsonl"
    write_records(source, examples)
    with pytest.raises(UsageError, match="unknown file type"):
        scrub(source, tmp_path / "out.txt")
    with pytest.raises(UsageError, match="unknown file type"):
        scrub(source, tmp_path / "out.jsonl", report=tmp_path / "report.log")
    assert not (tmp_path / "out.jsonl").exists()


def test_after_warm_up_detection_loads_nothing_more():
    """warm_up runs in the parent before workers fork: whatever detection would load on first
    use (modules, the name tables built from jieba's dictionary) must be loaded by then, or
    every worker loads its own copy in its first chunk."""
    import subprocess
    import sys

    probe = """
import sys
from curate.pii_detect import TYPES, detect, warm_up
from curate import pii_names_zh
from tests.pii_corpus import corpus
texts = [sample.text for sample in corpus(600, 3)]
warm_up()
modules, tables = set(sys.modules), pii_names_zh._given_characters.cache_info().currsize
for text in texts:
    detect(text, frozenset(TYPES))
print(sorted(set(sys.modules) - modules), pii_names_zh._given_characters.cache_info().currsize - tables)
"""
    root = Path(__file__).resolve().parent.parent  # the probe imports tests.pii_corpus
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=root,
                          timeout=120)
    assert done.stdout.split() == ["[]", "0"], done.stdout


@pytest.mark.parametrize("text", ["Hi, Ｂｏｂ. See ｘＢｏｂ.", "Dear Ａｎｎ, Ａｎｎa wrote", "Hi, Bob. Bobby and xBob are not Bob.",
                                  "我叫王小明。王小明的电话13812345678"])
def test_a_texts_spans_do_not_depend_on_whether_another_field_has_text(text):
    scrubber = PiiScrubber()
    alone = scrubber.detect([text])[0]
    assert alone and scrubber.detect([text, "ok"])[0] == alone == scrubber.detect(["", text, ""])[1]


def test_user_ids_holding_pii_are_refused_where_the_mode_would_merge_users(tmp_path, run_cli):
    # --fields all scrubs user_id: as <EMAIL> every user would be one, and split --by user_id wrong
    rows = [{"instruction": f"note {i}", "user_id": f"u{i}"} for i in range(300)]
    rows[200]["user_id"] = "john.smith@corp.com"
    source = write_jsonl(tmp_path / "in.jsonl", rows)
    code, _, err = run_cli("curate", "pii", str(source), "-o", str(tmp_path / "out.jsonl"), "--fields", "all")
    assert code == 1 and "in.jsonl: record 201 (id " in err and "user_id holds EMAIL" in err and "--mode hash" in err
    assert not (tmp_path / "out.jsonl").exists()
    code, _, err = run_cli("curate", "pii", str(source), "-o", str(tmp_path / "out.jsonl"), "--fields", "all",
                           "--mode", "hash", "--salt", "s")
    assert code == 0, err
    user_ids = [record.user_id for record in read_records(tmp_path / "out.jsonl")]
    assert user_ids[200].startswith("<EMAIL:") and user_ids[:3] == ["u0", "u1", "u2"]


@pytest.mark.parametrize("text", ["secret" * 100_000, "-----BEGIN PRIVATE KEY-----\n" * 20_000,
                                  "a+" * 100_000 + "@tcp(", "a" * 200_000 + "://x"])
def test_secret_patterns_take_linear_time_on_texts_that_repeat_their_cues(text):
    """Each cue scanned the rest of the text (a lookahead to the end, a BEGIN looking for its
    END), so such texts took time growing with the square of their length: 120 KB of "secret"
    took 11 s. At 600 KB that is minutes; linear, well under a second (the bound is loose:
    this asserts the complexity, not a speed)."""
    import time

    start = time.process_time()
    find_pii(text)
    assert time.process_time() - start < 10
