"""What the demo's support desk is asked, and how its agents answer: 18 topics in five teams.

Each topic has several ways to ask and several ways to answer. A template's `{slots}` are filled per ticket
(demo_data.py); an answer only states facts the question gave (the order number, the product, the device,
the days since purchase...) or the topic's fixed policy (refunds in 5 business days), and where the question
left a fact out, the answer says it generically ("your order"). So no answer is one of a few fixed strings:
a model has to learn the style, the policy and how to carry the question's facts into the answer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Topic:
    """One intent. `answers` is a list, or a dict keyed by `rule(raw slot values)` when the right answer
    depends on a fact in the question (a return 12 days after purchase is accepted, one after 45 is not)."""

    name: str
    team: str
    questions: tuple[str, ...]
    answers: tuple[str, ...] | dict[str, tuple[str, ...]]
    rule: Callable[[dict], str] | None = None
    fallback: dict[str, str] = field(default_factory=dict)  # this topic's generic wording of a missing slot


# the tables below keep one template a line: easier to read than the formatter's layout
# fmt: off
TEAMS = {"Account": "Ada", "Billing": "Sam", "Shipping": "Noor", "Tech": "Ben", "Privacy": "Lea", "Support": "Kim"}
PRODUCTS = ["CloudNote", "PhotoBox", "TaskPilot", "MailDesk", "FitTrack", "ShopLane", "BudgetBee", "Streamly"]
DEVICES = ["iPhone", "Android phone", "iPad", "Windows laptop", "MacBook", "Chromebook"]
ITEMS = ["USB-C charger", "blue backpack", "coffee grinder", "yoga mat", "desk lamp", "wireless mouse",
         "rain jacket", "water bottle", "phone case", "bluetooth speaker", "kitchen scale", "travel mug"]
PLANS = ["Free", "Basic", "Plus", "Pro", "Team"]
CITIES = ["Leeds", "Austin", "Lyon", "Porto", "Denver", "Graz", "Utrecht", "Cork", "Malmo", "Tampa", "Perth"]
TIMES = ["9 am", "10:30", "noon", "8:15 this morning", "last night", "2 pm", "about an hour ago", "7 pm"]
NAMES = ["Maria", "Tom", "Priya", "Wei", "Carlos", "Anna", "Omar", "Sofia", "Jonas", "Aisha", "Lucas", "Mei"]
# how a slot the question gave reads in the answer, and how the answer says it when the question did not
ANSWER_FORM = {"order": "order {}", "device": "your {}", "item": "the {}", "version": "version {}",
               "time": "since {}"}
FALLBACK = {"product": "the app", "order": "your order", "device": "your device", "item": "the item",
            "version": "the last update", "time": "earlier today"}

ACCOUNT = [
    Topic("password", "Account", (
        "How do I reset my {product} password?",
        "I forgot my password for {product} and can't sign in on my {device}",
        "password reset link for {product} is not working",
        "Can't log in to {product}, I think my password is wrong",
        "How can I change my password on my {device}?",
    ), (
        "To reset your password, open {product} on {device}, tap Sign in > Forgot password and enter your e-mail address. The link we send is valid for 30 minutes; if it has expired, request a new one.",
        "You can set a new password in three steps: open {product}, choose Forgot password on the sign-in screen, then follow the link in our e-mail within 30 minutes. Older links stop working once a new one is sent.",
        "Sorry you're locked out! Request a fresh reset link from the sign-in screen of {product} (Forgot password) and use it within 30 minutes. If no e-mail arrives, please check your spam folder.",
    )),
    Topic("locked", "Account", (
        "My {product} account is locked after too many login attempts",
        "It says my account is locked, I need {product} today for work",
        "Locked out of {product} on my {device}, help",
        "account locked?? what do I do",
    ), (
        "For your security, {product} locks an account for 15 minutes after five wrong passwords. Wait 15 minutes and sign in again, or reset your password to unlock it right away.",
        "Your account unlocks by itself 15 minutes after the last failed attempt. If you're not sure of your password, use Forgot password on {device}: a successful reset unlocks {product} at once.",
        "Sorry about the lock-out. After five failed sign-ins we block new attempts for 15 minutes to protect your data; a password reset from the sign-in screen of {product} lifts the block immediately.",
    )),
    Topic("twofactor_setup", "Account", (
        "How do I turn on two-factor authentication in {product}?",
        "Set up 2FA for {product} please",
        "Is there two-step verification in {product}?",
        "I want to secure my {product} account with 2FA on my {device}",
    ), (
        "Turn on two-factor authentication under Settings > Security > Two-factor in {product}, scan the QR code with an authenticator app and enter the six-digit code. Keep the ten backup codes somewhere safe.",
        "Yes, {product} supports two-step verification. On {device}, go to Settings > Security > Two-factor, link an authenticator app with the QR code and save the backup codes we show you once.",
        "Good idea! Open Settings > Security in {product} and switch on Two-factor. You'll scan a QR code with an authenticator app, confirm with a code and get backup codes for the day you lose your phone.",
    )),
    Topic("twofactor_lost", "Account", (
        "I lost my phone and can't get my 2FA code for {product}",
        "New phone, my authenticator codes for {product} are gone",
        "my 2FA app was on my old {device}, how do I sign in now?",
        "can't sign in to {product}, no access to my 2FA app",
    ), (
        "Sign in with one of your backup codes: on the code screen of {product}, choose Use a backup code. Then go to Settings > Security > Two-factor and link the authenticator app on your new phone.",
        "No problem. Use a backup code to get into {product}, then remove the old phone under Settings > Security > Two-factor and add the new one. Without backup codes, reply here and we'll verify your identity.",
        "Your backup codes are the way in: choose Use a backup code when {product} asks for the 2FA code. Once signed in, set up two-factor again under Settings > Security; each backup code works once.",
    )),
]

BILLING = [
    Topic("refund", "Billing", (
        "I want a refund for order {order}",
        "How do I get my money back for {order}?",
        "Please refund my purchase of {product}, it's not what I expected",
        "refund status for order {order}??",
        "I returned {order} on {date}, when do I get the refund?",
    ), (
        "Refunds for {order} are processed within 5 business days after we receive the item, and the money goes back to the card you paid with. You can follow the status under Orders > Refund.",
        "I've checked {order}: once the returned item reaches our warehouse, we refund it within 5 business days. Your bank may need 2 to 3 more days to show it on your statement.",
        "You'll get your money back for {order} on the original payment method within 5 business days of the return arriving. Orders > Refund shows each step, and we e-mail you when it's done.",
    )),
    Topic("double_charge", "Billing", (
        "Why was I charged {amount} twice for {product}?",
        "I see two charges of {amount} on my card from {date}",
        "double charge {amount}!!",
        "You billed me twice ({amount}) for my {product} plan",
    ), (
        "The second charge of {amount} is a pending authorisation, not a payment: it disappears from your statement within 3 business days. If it's still there after that, reply with a screenshot and we'll refund it.",
        "Sorry for the worry! Only one charge of {amount} went through; the other is a temporary hold that your bank releases within 3 business days. If both are still there on day 4, we refund the extra {amount}.",
        "I looked into it: your card was authorised twice but charged once, {amount} in total. The duplicate hold drops off within 3 business days; if it turns into a real charge, we refund it in full.",
    )),
    Topic("invoice", "Billing", (
        "Where can I download my invoice for {order}?",
        "I need an invoice with our VAT number for {product}",
        "invoice for {order} please",
        "My accountant needs the invoice from {date}",
    ), (
        "Open {order} under Orders and click Download invoice: you get a PDF right away. To have your VAT number on it, add it under Settings > Billing first and download the invoice again.",
        "Every invoice is in Settings > Billing > Invoices, listed by date. Add your company name and VAT number there, and the PDF for {order} is regenerated with them.",
        "You can download the invoice for {order} as a PDF from Orders > Download invoice. If your accountant needs it, forward the PDF; for privacy reasons we don't send invoices to third parties.",
    )),
    Topic("change_plan", "Billing", (
        "How do I change my {product} plan from {plan} to {plan2}?",
        "I want to switch from {plan} to {plan2}",
        "Can I move my {product} account to the {plan2} plan? I'm on {plan} now",
        "{plan} -> {plan2}, how?",
    ), (
        "Go to Settings > Billing > Change plan in {product} and choose {plan2}. The change from {plan} takes effect right away, and we charge or credit only the difference for the days left in this period.",
        "Switching from {plan} to {plan2} takes a minute: Settings > Billing > Change plan, pick {plan2} and confirm. You pay or get credited the prorated difference on your next invoice.",
        "You can change plans any time. In {product}, open Settings > Billing, select {plan2} instead of {plan} and confirm; your data stays as it is and the price difference is prorated.",
    )),
    Topic("cancel", "Billing", (
        "How do I cancel my {product} subscription?",
        "Please cancel my {plan} plan before it renews on {date}",
        "I want to stop paying for {product}",
        "cancel {product} membership",
        "How can I end my subscription? It renews on {date}",
    ), (
        "You can cancel {product} any time under Settings > Billing > Cancel subscription. You keep access until {date} and won't be charged again.",
        "To cancel, open {product}, go to Settings > Billing and choose Cancel subscription. Nothing is deleted: your account moves to the free plan after {date}, and you can come back whenever you like.",
        "I'm sorry to see you go. Cancelling takes effect at the end of the paid period, so you keep everything until {date}: Settings > Billing > Cancel subscription in {product}.",
    ), fallback={"date": "the end of the current billing period"}),
    Topic("promo_code", "Billing", (
        "The promo code {code} doesn't work for {product}",
        "Your code {code} says invalid at checkout",
        "how do I use discount code {code}?",
        "{code} not accepted!!",
    ), (
        "The code {code} works on the checkout page of {product}, in the Promo code field, for new orders only. Codes are case-sensitive and can't be added to an order after it's paid.",
        "Please type {code} in capital letters in the Promo code field before you pay. If it still says invalid, it has expired or was already used on this account; each code works once.",
        "I checked {code}: it is valid for one order per account until the end of the month. Enter it at checkout in {product} before choosing a payment method, and the discount shows in the total.",
    )),
]

SHIPPING = [
    Topic("late", "Shipping", (
        "Where is my order {order}? I ordered it on {date}",
        "My package {order} has not arrived yet",
        "tracking for {order} shows nothing since {date}",
        "Order {order} is late, can you check?",
        "I ordered a {item} on {date} and it's still not here",
    ), (
        "I checked {order}: it is with the carrier and usually arrives within 3 to 5 business days of shipping. Track it under Orders > Track package; if the tracking hasn't moved for 7 days, we send a replacement for free.",
        "Sorry for the wait! Carriers can take up to 5 business days, and tracking sometimes updates only at delivery. If {order} still hasn't arrived 7 days after shipping, reply here and we'll send {item} again or refund it.",
        "The tracking link for {order} is in your shipping e-mail and under Orders > Track package. Most parcels arrive within 5 business days; after 7 days without news we open a claim with the carrier and ship {item} again.",
    )),
    Topic("address", "Shipping", (
        "I moved to {city}, how can I update the address for {order}?",
        "Wrong shipping address on order {order}, it should go to {city}",
        "Can I change the delivery address after ordering? New address is in {city}",
        "need to ship {order} to {city} instead",
    ), (
        "You can change the address of {order} under Orders > Edit address until it ships; enter your new address in {city} there. Once it has shipped, ask the carrier to redirect it with the tracking number.",
        "If {order} hasn't shipped yet, go to Orders > Edit address and enter the {city} address; the change is saved immediately. Already shipped? Then the carrier can redirect it with the tracking number.",
        "No problem: until the parcel leaves our warehouse, Orders > Edit address lets you send {order} to {city} instead. After that we can't change it, but the carrier's website offers a redirect.",
    )),
    Topic("return", "Shipping", (
        "How do I return the {item} from {order}? I bought it {days} days ago",
        "I want to send back a {item}, bought {days} days ago",
        "Can I still return my {item}? It's been {days} days",
        "return {item} ({days} days old)",
    ), {
        "open": (
            "You're within our 30-day return window ({days} days since purchase). Start the return under Orders > Return item, print the free label and drop {item} at any post office; the refund follows within 5 business days.",
            "Yes, {item} can still go back: returns are free for 30 days and yours is {days} days old. Choose Orders > Return item, pack it with the label we e-mail you, and we refund you within 5 business days.",
        ),
        "closed": (
            "I'm sorry, {item} is past our 30-day return window ({days} days since purchase), so we can't take it back for a refund. If it's faulty, our 2-year warranty covers it: start a claim under Orders > Warranty.",
            "Returns close 30 days after purchase and it has been {days} days, so a refund is no longer possible. If {item} has a defect, though, the 2-year warranty applies: open a claim under Orders > Warranty.",
        ),
    }, rule=lambda raw: "open" if raw["days"] <= 30 else "closed"),
    Topic("damaged", "Shipping", (
        "My {item} arrived broken",
        "The {item} from order {order} was damaged in shipping",
        "received a cracked {item}, what now?",
        "{item} came with a missing part",
    ), (
        "I'm sorry {item} arrived damaged. Please reply with a photo of it and the box; we ship a replacement the same day at no cost, and you don't need to send the broken one back.",
        "That shouldn't happen! Reply with a photo of {item} and we'll send a new one for {order} right away, or a full refund if you prefer. There's no need to return the damaged item.",
        "Sorry about that. Under Orders > Report a problem, pick {order}, choose Damaged item and add a photo; a replacement for {item} ships within 1 business day.",
    )),
]

TECH = [
    Topic("crash", "Tech", (
        "The {product} app crashes when I open it on my {device}",
        "{product} keeps closing on startup since version {version}",
        "App freezes after updating to {version}",
        "{product} crashed on my {device} and I lost my work",
    ), (
        "Sorry about the crashes! We know of a start-up bug in {version}; please install the newest release of {product} and restart {device}. If it keeps crashing, send us Settings > Help > Send diagnostics.",
        "Please try this on {device}: update {product} to the newest release, restart the device, and if it still closes, reinstall it; your data is stored online. The newest release fixes the bug in {version}.",
        "Thanks for the report. Unsaved work is often recoverable: open {product} and look under File > Recover. Then update to the newest release, which fixes the crash in {version}.",
    )),
    Topic("sync", "Tech", (
        "{product} isn't syncing between my {device} and my laptop",
        "My changes in {product} don't show up on my other devices",
        "sync stuck at 'waiting' in {product} on my {device}",
        "{product} data not syncing since {date}",
    ), (
        "Sync needs the same account on every device. On {device}, open {product} > Settings > Account to check, then pull down on the main screen to force a sync; signing out and in fixes most stuck syncs.",
        "Please check three things on {device}: the same account is signed in, {product} may use mobile data (Settings > Sync), and battery saver isn't pausing it. Then tap Settings > Sync > Sync now.",
        "Sorry your data isn't syncing. Go to Settings > Sync in {product} on {device} and tap Sync now; if it stays at 'waiting', sign out and back in. Nothing is lost: changes stay on the device until they upload.",
    )),
    Topic("outage", "Tech", (
        "Is {product} down? Nothing loads since {time}",
        "{product} shows 'server error' since {time}",
        "can't connect to {product} at all today",
        "is there an outage? {product} is not loading",
    ), (
        "Yes, we had a service outage {time} that affected {product}. It's fixed now; please reload the page or restart the app. You can always check status.example.com for live updates.",
        "Sorry for the disruption! Our servers had a problem {time}; the team resolved it and {product} is back to normal. If you still see errors, sign out and back in.",
        "Thanks for letting us know. There was an outage {time}, and {product} is running again. Anything you saved before it started is safe; live status is always at status.example.com.",
    )),
]

PRIVACY = [
    Topic("export", "Privacy", (
        "How do I export my data from {product}?",
        "Can I download all my files from {product}?",
        "I need a backup of my {product} account",
        "export to CSV possible in {product}?",
    ), (
        "Go to Settings > Privacy > Export data in {product}. We prepare a ZIP file with all your data and e-mail you a download link within 24 hours; the link works for 7 days.",
        "Yes! Settings > Privacy > Export data creates a full copy of your {product} account, files as they are and lists as CSV. The download link arrives by e-mail within 24 hours.",
        "You can export everything at any time: in {product}, open Settings > Privacy and choose Export data. We e-mail a ZIP within 24 hours; tables come as CSV files inside it.",
    )),
    Topic("delete", "Privacy", (
        "Please delete my {product} account and all my data",
        "How do I close my {product} account permanently?",
        "I want all my personal data erased from {product}",
        "delete my account",
    ), (
        "You can delete your account under Settings > Privacy > Delete account in {product}. We erase your personal data within 30 days, except invoices we must keep for tax reasons.",
        "I can help with that. Deleting is permanent: go to Settings > Privacy > Delete account and confirm with your password. Your data is erased from {product} within 30 days.",
        "To close your {product} account for good, open Settings > Privacy > Delete account. Everything except legally required invoices is erased within 30 days, and you'll get an e-mail when it's done.",
    )),
]
# fmt: on

TOPICS = ACCOUNT + BILLING + SHIPPING + TECH + PRIVACY
