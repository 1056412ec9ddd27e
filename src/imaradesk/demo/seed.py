"""The demo organization that `make run` seeds: Imara Pesa, a fictional mobile-money wallet."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from rich.console import Console

from imaradesk.console.setup import DeskSetup
from imaradesk.knowledge_index.documents import parse_file
from imaradesk.services import Services
from imaradesk.storage.models import Organization

DEMO_SLUG = "demo"
DEMO_NAME = "Imara Pesa"
DEMO_TWILIO_TOKEN = "demo-twilio-auth-token"
console = Console()

DEMO_ADMIN = "admin@demo.imaradesk.local"
DEMO_PASSWORD = "imaradesk-demo"
# Examples let a rule match messages that use none of its keywords. The Swahili and Sheng
# ones are matched by the multilingual encoder (MiniLM reads them as noise and never sees them
# beside it: the router compares a message with examples of the encoder that searched it).
DEMO_EXAMPLES = {
    "fraud": [
        "someone called pretending to be from your company and asked for my PIN",
        "I got a message saying I won money and must pay a fee first",
        "there is a transaction on my account that I did not make",
        "my account was hacked and money was sent without my permission",
        "a link asked me to verify my account details",
        "mtu alinipigia akisema ni wa Imara Pesa akaniuliza PIN yangu",
        "nimepokea ujumbe kwamba nimeshinda pesa lakini nilipe ada kwanza",
        "kuna muamala kwenye akaunti yangu ambao sikuufanya",
        "msee ananiambia nimtumie code ya sms ndio account isifungwe",
        "pesa imetolewa kwa wallet yangu bila ruhusa yangu",
        "mtu ame-apply loan kwa jina langu bila mimi kujua",
    ],
    "stolen phone": [
        "my phone was stolen please block my account",
        "I lost my phone and my wallet is on it",
        "simu yangu imeibiwa tafadhali zuieni akaunti yangu",
        "nimepoteza simu na imara pesa iko ndani",
        "phone imeibwa kwa matatu, blockeni wallet yangu",
    ],
    "legal": [
        "I will take you to court",
        "I am reporting you to the regulator",
        "my lawyer will write to you",
        "nitawapeleka mahakamani",
        "nitawaripoti kwa mamlaka ya kulinda data",
        "wakili wangu atawaandikia barua",
    ],
    "lost money": [
        "I sent money but the person has not received it",
        "my deposit has not shown in my wallet",
        "the money was deducted but I got nothing",
        "nimetuma pesa lakini mtu hajapokea",
        "nimeweka pesa kwa agent lakini haijaonekana kwa wallet",
        "pesa imekatwa lakini sijapata chochote",
        "nimesend doh lakini haijafika bado",
    ],
}
DEMO_ROUTING = [
    # topic, keywords, team, priority, always handled by a person
    (
        "fraud",
        [
            "fraud",
            "scam",
            "scammed",
            "scammer",
            "hacked",
            "unauthorized",
            "unauthorised",
            "i didn't make",
            "i did not make",
            "someone used my account",
            "conman",
            "con man",
            "utapeli",
            "tapeli",
            "matapeli",
            "wizi",
            "nimeibiwa pesa",
            "sikutuma",
            "sijatuma",
        ],
        "Security",
        1,
        True,
    ),
    (
        "stolen phone",
        [
            "phone was stolen",
            "stolen phone",
            "phone got stolen",
            "lost my phone",
            "lost phone",
            "phone stolen",
            "simu imeibiwa",
            "nimeibiwa simu",
            "nimepoteza simu",
            "simu yangu imepotea",
        ],
        "Security",
        1,
        True,
    ),
    (
        "legal",
        [
            "lawyer",
            "advocate",
            "court",
            "sue you",
            "legal action",
            "odpc",
            "cbk",
            "central bank",
            "mahakama",
            "wakili",
            "kesi",
        ],
        "Escalations",
        1,
        True,
    ),
    (
        "lost money",
        [
            "money is missing",
            "not received",
            "hasn't received",
            "haven't received",
            "did not receive",
            "didn't receive",
            "did not arrive",
            "didn't arrive",
            "never arrived",
            "money disappeared",
            "pesa imepotea",
            "haijafika",
            "hajapokea",
            "sijapokea",
            "haijaingia",
            "haikufika",
        ],
        "Payments",
        1,
        False,
    ),
]


def seed_demo(services: Services) -> Organization:
    org = services.organizations.by_slug(DEMO_SLUG)
    if org is None:
        org = services.organizations.create(
            DEMO_SLUG,
            name=DEMO_NAME,
            twilio_auth_token=DEMO_TWILIO_TOKEN,
            privacy_policy_url="https://imarapesa.example/privacy",
        )
        setup = DeskSetup(services.database)
        for topic, keywords, team, priority, always_human in DEMO_ROUTING:
            setup.add_topic_rule(
                org.id,  # type: ignore[arg-type]
                topic=topic,
                keywords=keywords,
                team=team,
                priority=priority,
                always_human=always_human,
                examples=DEMO_EXAMPLES.get(topic, []),
            )
        setup.add_language_rule(org.id, language="sw", team="Swahili desk")  # type: ignore[arg-type]
        services.accounts.create(
            org.id,  # type: ignore[arg-type]
            email=DEMO_ADMIN,
            name="Demo admin",
            role="admin",
            team="Payments",
            languages=["en", "sw"],
            password=DEMO_PASSWORD,
            verified=True,
        )
    if org.kb_revision == 0:
        faq = resources.files("imaradesk.demo").joinpath("faq.csv")
        with resources.as_file(faq) as path:
            report = services.knowledge.import_documents(org.id, [parse_file(Path(path))])  # type: ignore[arg-type]
        console.print(f"Seeded the demo FAQ: {report.entries} entries.")
    return services.organizations.by_slug(DEMO_SLUG) or org
