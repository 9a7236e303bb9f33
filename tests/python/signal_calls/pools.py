"""Sentence pools for make_calls.py.

Every list is split by index parity: even entries -> tune, odd entries -> test,
so the wording of the two splits never overlaps.
"""

COMPANIES = ["Northwind Outfitters", "Bluebird Home", "Crestline Electronics", "Harbor Lane Furniture",
             "Maple and Co", "Summit Sports", "Redwood Kitchens", "Silverleaf Beauty",
             "Orchard Garden Supply", "Lakeside Books", "Pioneer Appliances", "Foxglove Fashion"]
AGENT_NAMES = ["Sarah", "Daniel", "Priya", "Marcus", "Hannah", "Oliver", "Megan", "Tom", "Rachel",
               "Ben", "Laura", "Kevin", "Chloe", "Sam"]
CUST_NAMES = ["Janet Miller", "Robert Hughes", "Aisha Khan", "Peter Walsh", "Linda Park",
              "George Turner", "Maria Lopez", "David Chen", "Emma Clarke", "Frank Wilson",
              "Susan Reid", "Carlos Ortega", "Helen Ward", "Michael Brooks"]
ITEMS = ["coffee machine", "pair of running shoes", "desk lamp", "winter jacket", "blender",
         "bookshelf", "set of saucepans", "vacuum cleaner", "garden hose", "wireless speaker",
         "office chair", "rug", "kettle", "backpack", "toaster", "bedside table"]
DATES = ["the third of March", "the twelfth of April", "the second of June", "the twenty first of May",
         "the ninth of October", "the fifth of August", "the seventeenth of July", "the first of September",
         "the twenty eighth of January", "the fourteenth of November"]
AMOUNTS = ["forty nine dollars and ninety nine cents", "twenty four dollars fifty", "one hundred and twelve dollars",
           "eighty nine dollars", "sixty five dollars and twenty cents", "thirty two dollars ninety nine",
           "one hundred and forty dollars", "fifty seven dollars and fifty cents"]

GREET = [
    "Thank you for calling {company}, my name is {aname}, how can I help you today?",
    "Good afternoon, you've reached {company} customer support, this is {aname} speaking, how can I help?",
    "Hello, you're through to {company}, {aname} here, what can I do for you today?",
    "Hi there, welcome to {company}, I'm {aname}, how may I help you?",
    "Good morning and thank you for calling {company}, this is {aname}, who am I speaking with?",
    "{company} support, {aname} speaking, how can I help you this morning?",
    "Hello and welcome to the {company} help line, my name is {aname}, what can I do for you?",
    "Thanks for calling {company} today, you're speaking with {aname}, how can I help?",
    "Good evening, {company} customer care, this is {aname}, how can I help you tonight?",
    "Hi, you're through to {aname} at {company}, what can I help you with?",
]
CUST_OPEN = [
    "Hi {aname}, my name is {cname}, I'm calling about an order I placed a couple of weeks ago.",
    "Hello, yes, this is {cname}, I've got a problem with something I bought from you.",
    "Hi, it's {cname} here, I'm ringing because my order hasn't gone the way it should have.",
    "Oh hello, I'm {cname}, and I'm hoping you can sort out an issue with my last order.",
    "Hi there, I'm calling about a delivery, my name is {cname}.",
    "Yes hi, {cname} speaking, I need some help with an online order please.",
    "Hello {aname}, I'm {cname}, I bought a {item} from your website and there's a problem with it.",
    "Hi, good morning, my name's {cname}, I'm phoning about the {item} I ordered from you.",
    "Hi, this is {cname}, I was told to call this number about my order.",
    "Hello there, {cname} here, I'd like to talk to someone about my recent purchase.",
]
ASK_ORDER = [
    "I'm sorry to hear that, could you give me the order number please?",
    "Of course, can I take the order number so I can pull up the details?",
    "Sure, let me look into it, do you have your order number to hand?",
    "No problem, could you read me the order number from your confirmation email?",
    "Okay, I can help with that, what's the order number please?",
    "Certainly, can you read out the order number for me, digit by digit?",
    "Let's have a look, what is the order number on your receipt?",
    "I'll check that for you now, could you tell me the order number?",
    "Happy to help with that, could I just get the order number from you first?",
    "Right, I'll need to find the order, can you give me the number on it?",
]
ORDER_READ = [
    "Yes, it's {digits}.",
    "Sure, the order number is {digits}.",
    "Okay, I've got it right here, it's {digits}.",
    "Let me see, it's {digits}, I think that's right.",
    "Yes, one second, it's {digits}.",
    "The number on the email says {digits}.",
    "Right, here it is, {digits}.",
    "I have it written down, it's {digits}.",
    "Okay so it's {digits}, that's the one from the confirmation.",
    "Hang on, yes, {digits}.",
]
CONFIRM_ORDER = [
    "Thank you, I can see the order here, that's the {item} you placed on {date}, is that right?",
    "Great, I've found it, one {item} ordered on {date}, is that correct?",
    "Thanks, that's come up, I've got a {item} bought on {date}, is that the one?",
    "Perfect, I have the order open now, a {item} from {date}, does that sound right?",
    "Lovely, so that's the {item}, ordered on {date}, can you confirm that for me?",
    "Got it, the system shows a {item} purchased on {date}, is that the order you mean?",
    "Okay, that's the {item} from {date}, am I looking at the right order?",
    "Thanks for that, it shows one {item}, placed on {date}, is that right?",
]
CUST_YES = [
    "Yes, that's the one.", "That's right, yes.", "Yes, exactly, that's it.", "Yep, that's the order.",
    "Yes, that's correct.", "Mm, yes, that's it.", "That's the one, yes.", "Yes, that's right.",
]
# problem statements per complaint category (customer, long)
PROBLEM = {
    "delivery_timing": [
        "Well, the website said it would arrive within three days, but it's been nearly two weeks now. "
        "I've checked the tracking every morning and it just says it's being processed. I took a day off work to wait for it.",
        "The thing is, I was promised delivery last Friday, and nothing came. "
        "The tracking page hasn't changed in over a week, and I really needed it for my daughter's birthday this weekend.",
        "So it was supposed to be here on Monday, and then the date moved to Wednesday, and then to next week. "
        "Every time I look it gets pushed back again, and nobody has told me why.",
        "I paid extra for next day delivery, and it still took eight days to get here. "
        "I'd like that delivery charge back at the very least, because that's not what I paid for.",
    ],
    "product_quality": [
        "When I opened the box the handle was already cracked, and after two uses it stopped working completely. "
        "It makes a loud clicking noise now and then just shuts off, so I can't use it at all.",
        "It looked fine at first, but within a week the stitching started coming apart along the side. "
        "For the price I paid I really expected it to last a lot longer than that.",
        "It worked for about three days and then it started smelling of burning plastic whenever I switch it on. "
        "Honestly I'm worried it isn't safe to keep using, so I've unplugged it.",
        "The paint was scratched all over the top and one of the legs is a different length to the others. "
        "It wobbles every time you put anything on it, which is really frustrating.",
    ],
    "double_charge": [
        "I checked my bank statement this morning and I've been charged twice for the same order. "
        "There are two payments on the same day for exactly the same amount, and I only ordered once.",
        "The problem is the payment went out two times. "
        "I got one confirmation email but my card shows two charges, and now I'm short for my rent this month.",
        "So I cancelled the first order because of a mistake and placed a new one, but you've taken money for both. "
        "The first one was cancelled, I have the email that says so.",
        "My credit card shows the charge twice, once on the day I ordered and again three days later. "
        "I rang the bank and they told me I have to sort it out with you directly.",
    ],
    "shipping_error": [
        "It went to the wrong address completely. "
        "The tracking says it was delivered to a house on the other side of town, and I've never lived there.",
        "The parcel arrived, but it had someone else's name on it and the wrong item inside. "
        "I don't know where my order has gone, and I've got a stranger's package in my hallway.",
        "The courier left it at a neighbour's, but there's no such house number on my street. "
        "I've knocked on every door nearby and nobody has it.",
        "Only half the order turned up. "
        "There were supposed to be two boxes, and I only got one of them, and the delivery note says both were sent.",
    ],
    "wrong_size_colour": [
        "I ordered it in dark blue, and what arrived is bright green. "
        "It doesn't go with anything in the room, and I chose the blue specifically to match the curtains.",
        "The size is completely wrong, I asked for a medium and the label says extra large. "
        "I double checked my order confirmation and it definitely says medium.",
        "It's the right model but the wrong colour, I wanted black and this is white. "
        "I've already opened it, but I haven't used it or anything.",
        "I ordered the small one, because we haven't got much space, and you sent the large. "
        "It doesn't fit through the doorway of the room I bought it for.",
    ],
}
APOLOGY = [
    "I'm really sorry about that, that's definitely not the experience we want you to have.",
    "Oh no, I do apologise, I can understand how frustrating that must be.",
    "I'm so sorry to hear that, let me see what I can do to put it right.",
    "I apologise for the trouble, thank you for explaining it so clearly.",
    "That's not good at all, I'm sorry you've had to deal with that.",
    "I'm sorry, that really shouldn't have happened, let's get it sorted out for you.",
    "I completely understand, and I'm sorry for the inconvenience this has caused.",
    "Sorry about all of this, I'll do my best to fix it today.",
]
ASK_DETAIL = [
    "Can I ask when you first noticed the problem?",
    "And have you contacted us about this before, or is this the first time?",
    "Could you tell me whether you still have the original packaging?",
    "Did you receive any emails from us about the delivery at all?",
    "Just so I understand, has anything like this happened with a previous order?",
    "Do you happen to have any photos of it that you could send us?",
    "And is the delivery address on the account still up to date?",
    "Would you prefer a replacement or a refund, if I can arrange it?",
    "Can you confirm the postcode on the account for me please?",
    "Have you tried the troubleshooting steps from the instruction leaflet?",
]
CUST_DETAIL = [
    "I noticed it straight away when I opened the box, so on the same day it arrived, and I called as soon as I could.",
    "I did send an email last week, but I never got a reply, which is why I'm calling now instead.",
    "Yes, I kept all the packaging, it's in the garage, I thought I might need to send it back.",
    "I got one email saying it had been dispatched, and then nothing after that, not even a text message.",
    "No, I've ordered from you loads of times and this is the first time anything has gone wrong.",
    "I took a few pictures on my phone, so I can send those over to you if that helps.",
    "Yes, it's the same address, I've lived here for about six years now, so nothing has changed.",
    "Honestly I'd rather have a refund at this point, I don't really want to wait again.",
    "I tried everything in the leaflet, I even reset it twice, and it made no difference at all.",
    "I think it was about ten days ago, but I'd have to check my calendar to be completely sure.",
]
EXPLAIN = [
    "What I'm going to do is raise a case with our warehouse team. They usually respond within a day, "
    "and once they confirm, I can send out a replacement straight away at no extra cost to you.",
    "So the way this works is that I log the fault on your account first. After that, our returns team "
    "will email you a prepaid label, and you just drop the parcel at any post office near you.",
    "Let me explain what happened on our side. There was a problem with one of our couriers last week, "
    "and a number of parcels were held at the depot. Yours was one of them, and it's now been released.",
    "I'll need to pass this to our payments team, because I can't reverse a charge myself. They'll check "
    "both transactions, and the duplicate will be refunded to the same card you used.",
    "Here's what I can offer. I can either send you the correct item by express delivery, or I can refund "
    "the full amount today, and you can keep the item you received until the courier collects it.",
    "Our policy is that faulty items can be returned within thirty days for a full refund. You're well "
    "within that, so there's no problem at all, and I'll make sure the return is free of charge.",
    "I can see the courier marked it as delivered, but the signature doesn't match your name. I'm going "
    "to open an investigation with them, which normally takes two or three working days.",
    "The colour you ordered is back in stock at our main warehouse. I can swap it for you, and the new one "
    "would leave us tomorrow morning, so you should have it by the end of the week.",
]
CUST_ACK = [
    "Okay, that sounds fine.", "Right, okay, that makes sense.", "Alright, that works for me.",
    "Okay, thank you, that's helpful.", "Fine, as long as it gets sorted.", "Okay, I understand.",
    "Sure, that's fine by me.", "Right, thanks for explaining that.",
]
CUST_QUESTION = [
    "How long will the replacement take to get to me?",
    "Will I have to pay for the return postage myself?",
    "And when will I actually see the money back in my account?",
    "Do I need to be at home when the courier comes to collect it?",
    "Is there any way you could speed that up for me?",
    "Will I get an email confirming all of this?",
    "What happens if the new one has the same problem?",
    "Can I keep using the old one until the new one arrives?",
]
ANSWER = [
    "It should be with you in three to five working days, and you'll get a tracking link by email as soon as it's dispatched.",
    "No, the return is completely free, the label we send you is already paid for.",
    "Refunds usually show up within five working days, although some banks can take a little longer than that.",
    "You don't need to be in, the courier can collect it from a safe place if you leave a note on the booking.",
    "I've marked it as a priority, so it will go out first thing tomorrow morning on the next day service.",
    "Yes, you'll get a confirmation email within the next hour with all of the details we've discussed.",
    "If that happens, just call us back and we'll refund you straight away, no questions asked.",
    "Yes, that's absolutely fine, just keep it until the courier picks it up next week.",
]
HOLD_START = [
    "Let me just check that with my team, could you hold for a moment please?",
    "I need to look into that, do you mind if I put you on a short hold?",
    "Give me one moment while I check the system, please stay on the line.",
    "Bear with me for a second while I look that up for you.",
    "I'll just speak to my supervisor about that, one moment please.",
    "Can you hold the line for a moment while I check something?",
]
HOLD_END = [
    "Thanks for holding, I've checked with my team and I can sort this out for you now.",
    "Sorry to keep you waiting, I've got the information I needed.",
    "Thank you for your patience, I've found what happened with your order.",
    "Thanks for waiting, I've spoken to my supervisor and we can go ahead.",
    "Right, thanks for bearing with me, I've looked at the account.",
    "Okay, I'm back, thanks for holding, I've got an answer for you.",
]
RESOLUTION = [
    "I've gone ahead and issued a full refund of {amount} to your original payment method. "
    "Your reference number for this is {ref}.",
    "I've arranged a replacement, which will be sent out by express delivery. "
    "Your case number is {ref}, in case you need to call us again.",
    "I've refunded {amount}, and I've also added a discount code to your account for your next order. "
    "The reference for today's call is {ref}.",
    "I've booked a collection for the faulty item, and the new one ships as soon as it's collected. "
    "Please keep the reference {ref} for your records.",
    "I've cancelled the duplicate payment of {amount}, so that will be returned to your card. "
    "Your refund reference is {ref}.",
    "I've sent the correct item out today, and the courier will collect the wrong one at the same time. "
    "The reference for that is {ref}.",
]
CUST_THANKS = [
    "That's great, thank you so much for sorting that out.",
    "Brilliant, thanks, I really appreciate your help.",
    "Okay, lovely, thank you, that's a big relief.",
    "Perfect, thanks for being so helpful today.",
    "Great, that's all I wanted, thank you.",
    "Thank you, that's much better than I expected.",
]
ANYTHING_ELSE = [
    "Is there anything else I can help you with today?",
    "Was there anything else you needed while I have you on the line?",
    "Is there anything more I can do for you today?",
    "Can I help with anything else at all?",
    "Before you go, is there anything else I can look at for you?",
    "Anything else I can help you with this afternoon?",
]
CUST_NO = [
    "No, that's everything, thanks.", "No, that's all for today, thank you.", "No, I think that covers it.",
    "Nope, that's it, thanks again.", "No, that's all I needed.", "No thanks, you've been very helpful.",
]
CLOSING = [
    "Thank you for calling {company}, have a lovely rest of your day.",
    "You're welcome, thanks for calling, take care now.",
    "Thanks for your patience today, goodbye for now.",
    "It was a pleasure to help, have a great evening.",
    "Thank you, and sorry again for the trouble, bye bye.",
    "Great, thanks for calling {company}, goodbye.",
]
CUST_BYE = ["Thanks, bye.", "Bye now, thanks.", "Okay, bye bye.", "Thank you, goodbye.", "Cheers, bye.",
            "Bye, thanks again."]
# interjections (interrupter's full turn, >= 1.5 s)
INTERJECT = {
    "agent": [
        "Sorry to cut in, but I can actually see the problem on my screen right now.",
        "Can I just stop you there for a second, I think I know exactly what went wrong.",
        "Sorry to interrupt, but is that the order that was sent to the old address?",
        "If I can just jump in here, there's a quicker way we can fix this for you.",
        "Sorry, let me stop you there, I don't want you to repeat anything unnecessarily.",
        "Just a moment, sorry, I think there might be a second order on your account.",
        "Sorry to butt in, but we already have a note about this from last week.",
        "Hold on one second, sorry, I need to check something you just said.",
    ],
    "customer": [
        "Sorry, can I just stop you there, I've already tried all of that twice.",
        "Hang on, sorry, but nobody told me anything about that last time I called.",
        "Sorry to interrupt, but I really don't want to wait another week for it.",
        "Wait, sorry, are you saying I have to pay for the postage myself?",
        "Sorry, but that's exactly what the last person told me, and nothing happened.",
        "Hold on, hold on, I just want to know when I'll get my money back.",
        "Sorry, can I ask, does that mean the whole order has been cancelled?",
        "Excuse me, sorry, but I was told this would be sorted out yesterday.",
    ],
}
RESUME = {
    "agent": ["Oh, okay, thanks for letting me know that.", "Right, I see, that's useful to know.",
              "Of course, sorry, I understand.", "Okay, fair enough, let me take that into account.",
              "Ah, I see, thank you for telling me.", "Understood, I'm sorry about that."],
    "customer": ["Oh, right, okay, go ahead.", "Oh, okay, sorry, carry on.", "Ah, right, okay then.",
                 "Oh, I see, okay.", "Right, fine, go on then.", "Okay, sorry, what were you saying?"],
}
# backchannel tokens: (text in truth, text sent to TTS or None for the synthetic hum)
BACKCHANNEL = {
    "agent": [("mm-hm", None), ("uh-huh", "uh huh"), ("yeah", "yeah"), ("right", "right"),
              ("okay", "okay"), ("sure", "sure"), ("go on", "go on"), ("I see", "I see"),
              ("yep", "yep"), ("mm", None)],
    "customer": [("mm-hm", None), ("uh-huh", "uh huh"), ("yeah", "yeah"), ("okay", "okay"),
                 ("right", "right"), ("I see", "I see"), ("yep", "yep"), ("ha ha", "ha ha")],
}
# unrelated background-talk sentences (babble talkers)
BABBLE = [
    "Did you see the match on Saturday, I couldn't believe the last goal.",
    "I'm going to grab a coffee, does anyone want anything from downstairs?",
    "The printer on the third floor is jammed again, somebody should call facilities.",
    "We're thinking of going to the coast for the long weekend if the weather holds.",
    "My sister just had a baby, so I've been driving up to see them every Sunday.",
    "Can you send me the rota for next month when you get a chance?",
    "The traffic this morning was terrible, it took me an hour to get in.",
    "I tried that new noodle place on the corner, it was actually really good.",
    "Has anyone seen the charger that was on this desk yesterday?",
    "I think the team meeting has been moved to half past two.",
    "We finally finished painting the kitchen, it only took three weekends.",
    "Is it me or is it freezing in here today, can someone turn the heating up?",
    "My dog ate half a sandwich off the table while I was on the phone.",
    "I've got a dentist appointment on Thursday, so I'll be in late.",
    "Did they ever fix the lift in the other building?",
    "I'm so tired, the neighbours were having a party until two in the morning.",
    "Remember to sign the card for Steve before lunch, it's his last day.",
    "I need to renew my passport before the summer, the queues are awful.",
    "The new manager seems nice, she bought doughnuts for everyone.",
    "Honestly I'd rather work from home on Fridays if they let us.",
]


def split_pool(lst, split):
    return lst[0::2] if split == "tune" else lst[1::2]
