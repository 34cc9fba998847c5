"""Replies as people write them: the verbs they use, in Gmail, Outlook and Apple Mail bodies,
with quotes and signatures that never reach the stored comment."""

from email.message import EmailMessage

import pytest

from notifications.inbound.parse import reply_text
from notifications.inbound.verbs import command

NAME, ADDRESS = "Bob Baca", "bob.baca@arizona.edu"
SIGNATURE_WORDS = ("Bob Baca", "Department Lead", "520-555-0143", "iPhone", "Outlook",
                   "College of Education", "Regards")

# How each client lays out a reply: what the person wrote ({words}), then their signature and
# the quoted original (which itself says "approve" and "return").
GMAIL = ("{words}\n\nBob Baca\nDepartment Lead\n520-555-0143\n\n"
         "On Tue, Dec 1, 2026 at 9:14 AM Micro-credentials <\nmicrocred@arizona.edu> wrote:\n\n"
         "> Hello Bob,\n> Approve it, or return it with a comment.\n")
GMAIL_DASHES = ("{words}\n\n-- \nBob Baca | Department Lead\n520-555-0143\n\n"
                "On Tue, Dec 1, 2026 at 9:14 AM Micro-credentials <microcred@arizona.edu> "
                "wrote:\n> approve\n")
OUTLOOK = ("{words}\n\nBob Baca\n\nDepartment Lead | College of Education\n\n520-555-0143\n\n"
           "________________________________\nFrom: Micro-credentials <microcred@arizona.edu>\n"
           "Sent: Tuesday, December 1, 2026 9:14 AM\nTo: Baca, Bob <bob.baca@arizona.edu>\n"
           "Subject: Approval needed: Applied Data Analytics\n\nApprove it, or return it.\n")
OUTLOOK_OLD = ("{words}\n\nRegards,\nBob\n\n-----Original Message-----\n"
               "From: Micro-credentials <microcred@arizona.edu>\n"
               "Sent: Tuesday, December 1, 2026 9:14 AM\nTo: Bob Baca\n"
               "Subject: Approval needed\n\napprove\n")
OUTLOOK_IOS = ("{words}\n\nGet Outlook for iOS\n________________________________\n"
               "From: Micro-credentials <microcred@arizona.edu>\nSent: Tuesday, December 1, "
               "2026 9:14:00 AM\nTo: Bob Baca <bob.baca@arizona.edu>\nSubject: Approval "
               "needed\n\nreturn it\n")
APPLE_IPHONE = ("{words}\n\nSent from my iPhone\n\n> On Dec 1, 2026, at 09:14, "
                "Micro-credentials <microcred@arizona.edu> wrote:\n>\n> approve\n")
APPLE_MAC = ("{words}\n\nBob Baca\nDepartment Lead\nbob.baca@arizona.edu\n\n"
             "> On Dec 1, 2026, at 09:14, Micro-credentials <microcred@arizona.edu> wrote:\n"
             "> \n> return it\n")
CLIENTS = {"gmail": GMAIL, "gmail-dashes": GMAIL_DASHES, "outlook": OUTLOOK,
           "outlook-original-message": OUTLOOK_OLD, "outlook-ios": OUTLOOK_IOS,
           "apple-iphone": APPLE_IPHONE, "apple-mac": APPLE_MAC}

# What people type, what it does, and the comment that is stored.
REPLIES = [
    ("Approve", "approve", None),
    ("approved", "approve", None),
    ("Approved - thanks!", "approve", "thanks!"),
    ("Yes, approve.", "approve", None),
    ("APPROVED!!!", "approve", None),
    ("Returning: please add the employer letters", "return",
     "please add the employer letters"),
    ("Return: please add the employer letters", "return", "please add the employer letters"),
    ("return - please add the employer letters", "return", "please add the employer letters"),
    ("Send back: the transcript is missing page 2.", "return",
     "the transcript is missing page 2."),
    ("Sent back, the letter is unsigned", "return", "the letter is unsigned"),
    ("Reject: duplicates Applied Data Analytics", "reject", "duplicates Applied Data Analytics"),
    ("Rejected - out of scope for this office", "reject", "out of scope for this office"),
    ("Decline: out of scope", "reject", "out of scope"),
]


def message(body: str) -> EmailMessage:
    mail = EmailMessage()
    mail["From"] = f"{NAME} <{ADDRESS}>"
    mail.set_content(body)
    return mail


@pytest.mark.parametrize("client", CLIENTS)
@pytest.mark.parametrize(("words", "trigger", "comment"), REPLIES,
                         ids=[r[0] for r in REPLIES])
def test_each_verb_is_understood_from_each_mail_client_without_its_signature(
    client: str, words: str, trigger: str, comment: str | None
) -> None:
    text = reply_text(message(CLIENTS[client].format(words=words)), NAME)
    found = command(text, ["approve", "return", "reject"])
    assert (found.trigger, found.comment if trigger != "approve" else None) == (
        trigger, comment if trigger != "approve" else None)
    for word in SIGNATURE_WORDS:
        assert word not in (found.comment or ""), (client, word)


@pytest.mark.parametrize("client", CLIENTS)
def test_a_long_comment_keeps_its_lines_and_loses_the_signature(client: str) -> None:
    words = ("Return: a few things before I can approve:\n- add the employer letters\n"
             "- fix the start date (it says 2025)\nThanks, and call me if unclear.")
    found = command(reply_text(message(CLIENTS[client].format(words=words)), NAME))
    assert found.trigger == "return"
    assert found.comment == ("a few things before I can approve:\n- add the employer letters\n"
                             "- fix the start date (it says 2025)\n"
                             "Thanks, and call me if unclear.")


@pytest.mark.parametrize("words", [
    "Looks good", "Looks good to me!", "OK", "Yes", "Thanks!", "Not approved",
    "I can't approve this yet", "Don't return it", "Approve once the letters are in",
    "Approved?", "Approve or return?", "Automatic reply: I am out of the office",
])
def test_unclear_replies_do_nothing(words: str) -> None:
    found = command(reply_text(message(GMAIL.format(words=words)), NAME))
    assert found.trigger is None and found.why


def test_an_empty_reply_above_the_quote_does_nothing() -> None:
    found = command(reply_text(message(GMAIL.format(words="")), NAME))
    assert found.trigger is None


def test_a_verb_the_role_may_not_use_is_not_acted_on() -> None:
    found = command("Reject: out of scope", ["approve", "return"])
    assert found.trigger is None and "reject" in found.why


def test_an_html_only_reply_is_read_without_its_quote_or_signature() -> None:
    mail = EmailMessage()
    mail["From"] = f"{NAME} <{ADDRESS}>"
    mail.set_content('<div dir="ltr">Returning: add the letters<br><br>Bob Baca<br>'
                     'Department Lead<br>520-555-0143</div><div class="gmail_quote">'
                     "On Tue wrote:<blockquote>approve</blockquote></div>", subtype="html")
    found = command(reply_text(mail, NAME))
    assert (found.trigger, found.comment) == ("return", "add the letters")
