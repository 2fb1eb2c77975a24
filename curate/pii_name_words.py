"""The words the English name finder (pii_names.py) works with: given names (the 1990 US
census list, and other countries' from Faker's lists) and the words that start, end or rule out
a name (offices, places, organisations, clause openers, cue endings)."""

from __future__ import annotations

import functools

# the lower-case particles inside a name: Ludwig van Beethoven, Leonardo da Vinci, Mohammed bin Salman
PARTICLES = frozenset("van von der den de da di du del della dos das bin bint ibn al el le la".split())

# the first words of places that look like a first and last name after "to" or "from" ("San
# Jose"): no name starts at them, nor at the word after them ("San Manuel Stadium")
PLACE_STARTS = frozenset("San Santa Los Las Hong Saint St Port Fort Mount Lake Cape United Great Little Upper Lower "
                         "Central Southern Northern Eastern Western Royal National North South East West "
                         "New".split())

# words that start a sentence or clause, capitalised before a name: "But Graham said" is But,
# then the name Graham
CLAUSE_STARTS = frozenset("But And Or Nor Although Though As If When While Because Since After Before Until Unless "
                          "So Then Also Yet Now Today Yesterday Tomorrow However Meanwhile Once Even Only Just "
                          "Both Either Neither Every Each Some Many Most Not For With Without In On At Of From By "
                          "To Into About Like Unlike Did Does Do Is Are Was Were Has Have Had Can Could Would "
                          "Should Might Must".split())

# "Dear Sir", "Name: Customer": the cue fits, but what follows is a role, not a person.
# ("File name: Report" is kept out by the look-behind: a word before "name:" makes it a label.)
NOT_NAMES = frozenset("Sir Madam Customer Customers Team All Friend Friends Colleague Colleagues Hiring Manager "
                      "User Users Valued Support Everyone Reader Readers Student Students Parent Parents Member "
                      "Members Applicant Client Owner Admin Unknown Anonymous Service Services Care Success Sales "
                      "Relations Experience Account Accounts Portal Center Centre Desk Department There Here Thanks "
                      "Please The This That These Those We You They It Our My Your His Her Their What When Where Why World "
                      "How Which Who Yes No Okay Ok Good Great Monday Tuesday Wednesday Thursday Friday Saturday "
                      "Sunday January February March July September October November December "
                      "God Lord Google Apple Microsoft Amazon Python Java English Chinese French German Spanish "
                      "YouTube GitHub LinkedIn PayPal PowerPoint JavaScript TypeScript WordPress WhatsApp TikTok "
                      "FedEx PlayStation "
                      "Street Avenue Road Drive Lane Old Happy Merry Christmas "
                      "Hurricane Storm Typhoon Cyclone Tropical".split()) | PLACE_STARTS | CLAUSE_STARTS

LABEL_ENDS = frozenset("name customer client patient contact employee candidate applicant tenant guest passenger "
                       "recipient sender owner author member student agent holder requester requestor assignee "
                       "signed signatory beneficiary payee attn cc to from by".split())

WEAK_CUE_ENDS = frozenset(["to", "from", "by"])

# what a title starts that is no person: Dr Pepper, Dr. Martens, Mr. Clean, Miss Universe
TITLED_THINGS = frozenset("Pepper Martens Clean Oetker Potato Universe World America USA".split())

WORK_NOUNS = frozenset("movie film novel song album series musical opera poem painting character brand whisky "
                       "whiskey magazine newspaper".split())

# Offices only a person holds, which may start a name after a weak cue. Not General, King,
# Queen, Prince: General Motors, King County, Prince Edward Island
OFFICES = frozenset("President Senator Sen Governor Gov Mayor Judge Minister Sheriff Officer Detective Sergeant "
                    "Sgt Lieutenant Lt Colonel Col Captain Capt Marshal Admiral Pope Rev Reverend Rabbi Imam".split())

# Offices, ranks and their first words, left out of a full name that follows them
OFFICE_WORDS = OFFICES | frozenset("Attorney Secretary Chancellor Commissioner Ambassador Premier Chairman "
                                   "Chairwoman Chair Chief Director Coach Professor Congressman Congresswoman "
                                   "Representative Rep General Prince Princess King Queen Lord Lady Sir Dame "
                                   "Prime Vice Deputy Inspector Constable Bishop Cardinal Father Air Justice "
                                   "Superintendent Principal Commander".split())


@functools.cache
def given_name_shares() -> dict[str, float]:
    """{given name: share of people bearing it, in percent} from curate/data/given_names.txt
    (the 1990 US census lists: 5,163 names)."""
    from importlib import resources

    lines = (resources.files("curate") / "data" / "given_names.txt").read_text(encoding="utf-8").splitlines()
    return {name: float(share) for name, share in (line.split() for line in lines if line and line[0] != "#")}


@functools.cache
def given_names() -> frozenset[str]:
    """Every given name of the census list."""
    return frozenset(given_name_shares())


@functools.cache
def weak_cue_given_names() -> frozenset[str]:
    """What a name after "to", "from" or "by" starts with: any given name but the word-like ones
    and places ("to Georgia Tech", "from Austin Texas", "to Long Beach"); or one of other
    countries' (world_given_names)."""
    return given_names() - WORD_NAMES


@functools.cache
def world_given_names() -> frozenset[str]:
    """Given names of other countries, from Faker's lists, less surnames, places and English
    words (curate/data/build_world_given_names.py: 11,598 names). Not for names with no cue:
    many are words elsewhere, and the list gives no share of people to keep only common ones.
    Nor for _inside_a_name: "Pekka Eric Auvinen" would lose Eric Auvinen, found with no cue."""
    from importlib import resources

    text = (resources.files("curate") / "data" / "world_given_names.txt").read_text(encoding="utf-8")
    return frozenset(line for line in text.splitlines() if line and line[0] != "#")


@functools.cache
def cueless_given_names() -> frozenset[str]:
    """Given names that start a name with no cue before it: borne by 0.01% of people or more
    (the rarer entries of the census list include In, My and So), less those that are also
    English words or places (Will, Grant, Hope, Georgia, Austin: "Grant Park")."""
    return frozenset(name for name, share in given_name_shares().items() if share >= 0.01) - WORD_NAMES


WORD_NAMES = frozenset("Will May June April August Autumn Summer Grant Mark Bill Rose Hope Joy Grace Faith Charity "
                       "Guy Don Dean Chase Drew Miles Ward Young Son Brain Gay Clay Cliff Rob Rod Van Pearl Penny "
                       "Olive Ginger Fern Laurel Melody Candy Brandy Buddy Rocky Earnest Rex Morgan Marina Christian "
                       "Israel Jordan Georgia Virginia Carolina Florence Austin Dallas Charlotte Victoria Sydney "
                       "Paris Houston Lincoln Madison Amber Angel Basil Carol Crystal Daisy Dawn Ebony Eve Gale "
                       "Hazel Heather Holly Iris Ivy Jewel Lily Misty Opal Sandy Sterling Violet Rusty Reed Cole "
                       "Roman Junior Mercedes Jesus Kenya Chad Cleveland Orlando Savannah Geneva Augusta Aurora "
                       "Alexandria Santiago Long China India Asia Florida King Queen Major Golden Sunny Wm "
                       "Williams".split())

OWN_CUE_ENDS = frozenset("is name's name dear hi hello hey thanks you cheers congratulations welcome me called i'm am "
                         "it's regards sincerely i bin heiße ist appelle suis llamo es soy chiamo sono".split())

ROLE_CUE_ENDS = frozenset("customer client patient contact employee candidate applicant tenant guest passenger "
                          "recipient sender owner author subscriber member student agent ask tell email call ping "
                          "message text cc copy invite meet thank remind pay visit to from by of "  # of: in the name of
                          "holder requester requestor assignee signed signatory beneficiary payee attn colleague "
                          "coworker manager supervisor driver technician landlord boss husband wife spouse guardian "
                          "nurse physician".split())

NEVER_IN_NAMES = frozenset("Monday Tuesday Wednesday Thursday Friday Saturday Sunday January February March "
                           "July September October November December Day Times House Corporation Company Institute "
                           "Management Force Army Navy University College School Hospital Bank Medical "
                           # organisations named like people: "Al Qaeda", "Charlie Hebdo", "Warner Bros"
                           "Qaeda Qaida Jazeera Shabaab Hebdo Bros".split())

SUFFIXES = frozenset("Jr Sr II III IV MD DDS DVM PhD Esq".split())

TITLES_EN = frozenset("Mr Mrs Ms Miss Mx Dr Prof".split())

NOT_NAME_ENDS = frozenset("Team Support Service Services Department Street Avenue Road Inc Ltd LLC Corp Group "
                          "Desk Center Centre Office".split())

# The last words of organisations and places, never of a person's name: a run ending in one is
# no name, nor are the words before it (real prompts: "banned from Alaska Airlines", "reported
# by Associated Press", "a statement from Human Rights Watch")
ORGANISATION_ENDS = frozenset("Airlines Airways Press News Tribune Journal Herald Gazette Ministry Agency Authority "
                              "Council Commission Committee Foundation Association Society Partners Patrol Police "
                              "Lottery Museum Festival Awards League Federation Airport County City Coast Island "
                              "Islands Isles Valley Mountains Province Kingdom Republic Parenthood Watch Minor "
                              "Arabia Examiner Leader Stadium Arena Theatre Theater Records Gifts Health Clinic Motors "
                              "Brewery Foods Pharmacy Bakery Cafe Restaurant Hotel Hotels Casino Studios Pictures "
                              "Entertainment Publishing Magazine Bridge Square Station Church Cathedral Library "
                              "Stores Mall Survey".split())
