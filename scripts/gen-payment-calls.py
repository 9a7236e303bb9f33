#!/usr/bin/env python3
"""Generate synthetic payment calls for the redaction evaluation (issue 14).

Stereo 8 kHz G.711 mu-law WAV calls (agent = left, customer = right) with
ground truth in the schema of ../shared/corpus/dev/*.truth.json, split into a
TUNE half and a TEST half whose phrase pools are disjoint: every pool of
wordings (requests, replies, fillers, prompts, confirmations, chit-chat,
names) is shuffled with a fixed seed and cut in two; tune calls draw only
from half A, test calls only from half B. Voices (espeak-ng voices and
variants, plus real recorded digits from ../shared/corpus/real/digits/allison)
are shared by both halves.

    python3 scripts/gen-payment-calls.py [--out /work/gen/payment] [--calls 36] [--seed 14]

Writes OUT/{tune,test}/<id>.wav + <id>.truth.json and OUT/summary.json.
Needs: espeak-ng (apt-get install -y espeak-ng) and numpy (pip install numpy).
See docs/redaction-eval.md.
"""

import argparse
import hashlib
import json
import os
import random
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

try:
    import numpy as np
except ImportError:
    sys.exit("numpy is missing: pip install numpy")

SR = 8000
HERE = Path(__file__).resolve().parent
ALLISON = (HERE / ".." / ".." / "shared" / "corpus" / "real" / "digits" / "allison").resolve()

# --------------------------------------------------------------------------
# Voices. (espeak-ng voice+variant, words per minute, pitch, gender)
# --------------------------------------------------------------------------
VOICES = {
    "us_m3": ("en-us+m3", 160, 45, "m"),
    "gb_f2": ("en-gb+f2", 165, 60, "f"),
    "rp_m5": ("en-gb-x-rp+m5", 150, 40, "m"),
    "car_f4": ("en-029+f4", 155, 55, "f"),
    "sc_m1": ("en-gb-scotland+m1", 160, 50, "m"),
    "nyc_f1": ("en-us-nyc+f1", 165, 65, "f"),
    "lanc_m7": ("en-gb-x-gbclan+m7", 150, 35, "m"),
    "wm_f5": ("en-gb-x-gbcwmd+f5", 160, 58, "f"),
    "us_f3": ("en-us+f3", 170, 62, "f"),
    "rp_m2": ("en-gb-x-rp+m2", 165, 48, "m"),
    "us_m6": ("en-us+m6", 150, 38, "m"),
    "gb_f1": ("en-gb+f1", 155, 52, "f"),
}
# Festival-lite voices (Debian package flite): diphone/clustergen voices
# that whisper hears much more like a person than espeak's formant voices.
# (flite voice, duration stretch in %, pitch shift (unused), gender)
FLITE_VOICES = {
    "fl_slt": ("flite:slt", 100, 0, "f"),
    "fl_rms": ("flite:rms", 105, 0, "m"),
    "fl_awb": ("flite:awb", 100, 0, "m"),
    "fl_kal": ("flite:kal16", 95, 0, "m"),
    "fl_slt_slow": ("flite:slt", 115, 0, "f"),
    "fl_rms_fast": ("flite:rms", 90, 0, "m"),
}
# Which voices calls draw from (--voices): espeak (the original sets), flite, or both.
VOICE_SETS = {"espeak": list(VOICES), "flite": list(FLITE_VOICES), "mixed": list(VOICES) + list(FLITE_VOICES)}
VOICES.update(FLITE_VOICES)
ACTIVE_VOICES = VOICE_SETS["espeak"]

# --------------------------------------------------------------------------
# Phrase pools. Each pool is split into two disjoint halves (A: tune, B: test).
# --------------------------------------------------------------------------
P = {}

P["company"] = ["Northgate Energy", "Bluebell Broadband", "Castle Home Insurance", "Riverside Dental",
                "Summit Gym", "Maple Water", "Oakfield Council", "Brightline Mobile", "Harrow Motors",
                "Pinewood Furniture", "Lakeside Vets", "Swift Parcels", "Crown Garden Centre",
                "Elmstreet Opticians", "Atlas Travel", "Meadow Pet Insurance"]
P["agent_name"] = ["Hannah", "Marcus", "Priti", "Owen", "Leila", "Callum", "Grace", "Tomasz", "Nadia",
                   "Dev", "Rosie", "Ibrahim", "Megan", "Luis", "Fiona", "Kwame"]
P["greet"] = [
    "Good morning, you're through to {co}, {ag} speaking.",
    "Hi there, {co} customer care, this is {ag}. What can I do for you?",
    "Hello, {co}, my name's {ag}. How can I help today?",
    "{co} accounts team, {ag} here, how may I help?",
    "Thanks for holding, you've reached {co}. I'm {ag}.",
    "Afternoon, {co} support desk, you're speaking with {ag}.",
    "Welcome to {co}. {ag} on the line, what's brought you to us today?",
    "Hiya, it's {ag} at {co}. What can I sort out for you?",
    "Good evening and welcome to {co}, {ag} speaking, how can I assist?",
    "You've come through to {ag} in the {co} billing team.",
    "Hello and thanks for calling {co}, {ag} here.",
    "{co}, good afternoon, {ag} speaking. Who am I talking to?",
]
P["reason"] = [
    "Hi, I'm ringing about a bill I got in the post.",
    "Hello, I'd like to renew my membership before it lapses.",
    "Yes, hello, I need to pay for the repair you did last week.",
    "I want to settle what I owe on my account.",
    "My subscription got cancelled and I'd like to start it up again.",
    "I'm calling to book the delivery and pay the balance.",
    "Hey, I got a reminder letter and I want to sort it out today.",
    "Hi, I'm trying to pay for my daughter's school trip.",
    "Morning, the website kept crashing when I tried to check out.",
    "I need to pay the excess on my insurance claim.",
    "Hello there, I'd like to upgrade my plan, please.",
    "I was told I could pay the remaining deposit over the phone.",
    "Hi, my direct debit bounced and I need to make it up.",
    "I'd like to buy the extended warranty for my washing machine.",
    "Yeah, hi, my parking permit is about to expire and I need to renew it.",
    "I've got an overdue invoice and I'd rather just pay it now.",
]
P["ask_phone"] = ["Could I get the phone number on the account?", "What's the best number to reach you on?",
                  "Which mobile number did you register with?", "Can you confirm your contact number for me?",
                  "And a daytime telephone number?", "What number are you calling from today?"]
P["say_phone"] = ["It's {x}.", "Sure, {x}.", "{x}, that's my mobile.", "Yeah, {x}.", "That'd be {x}.",
                  "My home one is {x}."]
P["ask_zip"] = ["And the zip code at the address?", "What zip code is the account registered to?",
                "Can you give me the zip for the billing address?", "Could you confirm your postal code?",
                "And your zip, please?", "Which zip code should I have for you?"]
P["say_zip"] = ["{x}.", "It's {x}.", "That's {x}, I think.", "Zip is {x}.", "Um, {x}.", "We're {x}."]
P["ask_order"] = ["Do you have an order or reference number there?", "Is there a booking reference on your email?",
                  "What's the order number on the confirmation?", "Have you got the job number from the engineer?",
                  "Can you see an account number at the top of the letter?", "Is there a claim reference on the paperwork?"]
P["say_order"] = ["Yes, it's {x}.", "I've got {x}.", "It says {x}.", "Um, {x}.", "Here it is, {x}.",
                  "Let me look, {x}."]
P["ask_dob"] = ["And can I take your date of birth?", "Just for security, your birthday please?",
                "Could you confirm your date of birth?", "And when were you born, for the security check?"]
P["say_dob"] = ["{x}.", "It's {x}.", "I was born on {x}.", "{x}, that's me."]
P["chat_agent"] = [
    "Thanks for that, I can see your account now.", "Bear with me while I bring that up.",
    "Right, I can see what's happened here.", "Sorry to hear it's been such a hassle.",
    "Let me just have a look at the notes on this.", "Okay, that all matches what I've got.",
    "I completely understand, it's frustrating when that happens.", "I'll make a note of that on your file.",
    "Lovely, thanks for confirming.", "That's no trouble at all.",
    "The system's a bit slow this morning, sorry.", "Perfect, you're all verified.",
    "I'll pop an email over to you afterwards as well.", "Just so you know, this call is recorded for training.",
    "Great, and is that still the right address?", "Give me a moment, the screen is loading.",
    "Yes, I can help you with that today.", "I've updated that for you.",
    "Brilliant, that's all fine.", "I do apologise for the wait earlier.",
    "Okay, I'll get that sorted while you're on the phone.", "I can see the letter went out last week.",
    "That should have been done automatically, my apologies.", "Don't worry, it happens all the time.",
]
P["chat_customer"] = [
    "Okay, no problem.", "Yes, that's right.", "Great, thank you.", "It's been a bit of a nightmare, honestly.",
    "Sorry, the line's a bit crackly.", "Sure, take your time.", "I'm on my lunch break so I'm a bit rushed.",
    "That sounds good to me.", "Brilliant, cheers.", "Oh, that's a relief.",
    "Yeah, I tried the app but it wouldn't let me.", "Could you speak up a little, please?",
    "Fine, let's just get it sorted.", "Lovely, thanks so much.", "Right, okay.",
    "I was hoping you'd say that.", "My neighbour had the same issue actually.",
    "I'm not great with these things, sorry.", "Yes, still the same address.", "Perfect, that's what I wanted.",
]
P["pay_intro"] = [
    "So the amount outstanding is {x}. Shall we take care of that now?",
    "That comes to {x} in total, are you happy to pay today?",
    "The renewal is {x}. Would you like to go ahead?",
    "There's {x} left to pay. I can take that over the phone if you like.",
    "It'll be {x} including delivery. Do you want to pay for that now?",
    "Your balance shows {x}. Can we settle that while you're on the line?",
    "With the discount it's {x}. Happy to proceed?",
    "The fee for that is {x}, payable today.",
    "I can do that for {x}. How would you like to pay?",
    "We just need {x} to release the booking.",
]
P["pay_accept"] = ["Yes, go ahead.", "Yeah, let's do that.", "Please, I'd like to get it done.", "Okay, fine.",
                   "Sure, I've got my card here.", "Go on then.", "That's fine, I'll pay now.", "Yes please.",
                   "Alright, let's get it over with.", "Sounds fair, let's do it."]
# Requests for the card number: obvious wording, and wording outside obvious lists.
P["pan_req_plain"] = [
    "Can I take the card number, please?", "What's the card number?", "Please read out the number on your card.",
    "Go ahead with the card number whenever you're ready.", "Could you give me your credit card number?",
    "And what is the debit card number?", "Let's start with the card number.", "I'll need the card number first.",
]
P["pan_req_novel"] = [
    "Could you read out the long number for me?", "What are the numbers across the front?",
    "Can I grab the card details, starting with the big number?", "Read me the digits embossed on the front, please.",
    "Just the main number first, if you would.", "What's printed along the middle of the card?",
    "Start with the sixteen digits across the front.", "Okay, the long one first please.",
    "I'll need the number from the front of your Visa.", "If you could give me the account number on the plastic.",
    "Let's have the digits from the front, in your own time.", "Can you read across the front, left to right?",
    "Pop the long number over to me when you're ready.", "And what does it say on the front of the card?",
    "I'm ready for the numbers whenever you are.", "Give me the card's long number, nice and slowly.",
    "What's the full number printed on your Mastercard?", "Right, the payment details, starting with the front.",
    "Could you talk me through the numbers on your bank card?", "Just read off the front for me, please.",
    "Whenever you're ready, the number on the front.", "Can you read me the card's primary account number?",
    "So what are the numbers along your card?", "Read me the long one off the card, please.",
]
P["cvv_req_plain"] = [
    "And the security code on the back?", "What's the CVV?", "Can I have the security code, please?",
    "Lastly the three digit security code.", "And the CVV number on the reverse?", "Please give me the security number.",
]
P["cvv_req_novel"] = [
    "And the three little numbers on the back?", "What's the CV2?", "Can you read me the CVC by the signature strip?",
    "And the CID, please?", "Now the last three by the signature panel.", "What's the verification code?",
    "And the card's verification value, please.", "Flip it over for me, what are the digits there?",
    "And the code on the back, the short one.", "What's the card security number?",
    "Turn it over, there's a short code at the end of the white strip.", "And the little three-digit code?",
    "I just need the CVC now.", "There's a code printed on the reverse side, what does it say?",
    "Could you read the numbers next to where you sign?", "And the security digits on the back please.",
    "Last bit, the code from the back of the card.", "What's the card verification number?",
    "Now the short code at the end of the signature box.", "And the 3-digit code, if you would.",
]
P["exp_req_plain"] = [
    "What's the expiry date?", "And the expiration date, please?", "When does the card expire?",
    "Can I have the expiry, month and year?", "And the card's expiration?", "What's the expiry on it?",
]
P["exp_req_novel"] = [
    "And what date does the card run out?", "What's the valid thru date?", "And the valid until date on it?",
    "What month and year is on the front?", "What's the end date?", "And it's good until when?",
    "How long's the card valid for, month and year?", "What does it say after valid to?",
    "And the date on the front, the month and year?", "When does the card stop working?",
    "What's the exp date?", "And the renewal date on the card?", "Until when is it valid?",
    "When's the card due to be replaced?", "What's the date it expires? Month then year.",
    "Is there a valid from and a valid to? I need the second one.", "When does it lapse?",
    "Give me the month and year it runs until.", "And the finish date on the card?",
    "And when's it good through?",
]
P["vague_prompt"] = [
    "Okay, go ahead.", "Right, next bit?", "And the other one?", "Sure, whenever you're ready.", "Okay, what's next?",
    "Mm-hm, and then?", "Go on, I'm listening.", "Okay, fire away.", "And after that?",
    "Right, what else have you got?", "Sure, carry on.", "Ready when you are.",
]
P["suffix_pan"] = [
    "that's the long number.", "those are the numbers across the front.", "that's my card number.",
    "that's the whole thing off the front.", "that's what's on the front of the card.",
    "that's the main number on my debit card.", "that's the number off my Visa.", "that's the card, the long one.",
    "that's everything on the front.", "those are my card digits.",
]
P["suffix_cvv"] = [
    "that's the code on the back.", "that's the security bit.", "that's the little one by the signature.",
    "those are the ones on the back.", "that's the CVV.", "that's the verification code.",
    "that's the one on the reverse.", "that's the CVC I think.",
]
P["suffix_exp"] = [
    "that's when it expires, I think.", "that's the expiry.", "that's the end date.",
    "that's what it says under valid thru.", "that's when the card's up.", "that's the expiration.",
    "that's the month and year.", "that's the valid until date.",
]
P["preface"] = ["Sure, it's", "Okay,", "Right, so", "Yeah, it's", "Got it, it's", "Let me see,", "Um,", "It says",
                "Here we go,", "Okay so it's", "Alright,", "Yep,"]
P["group_filler"] = ["and", "then", "okay", "hang on", "right", "erm", "next is", "after that", "and then", "wait"]
P["backchannel"] = ["Mm-hm.", "Yep.", "Go on.", "Uh-huh.", "Okay.", "Got that.", "Right.", "Yes.", "Carry on.",
                    "Lovely.", "Keep going.", "Sure."]
P["split_mid"] = ["Yep, go on.", "Okay, and the rest?", "Got that, keep going.", "Right, and then?",
                  "Mm-hm, carry on.", "Okay, next part?"]
P["wait_customer"] = [
    "Hang on, my wallet's upstairs.", "Oh, sorry, I left my purse in the car.", "Wait, let me go and grab my bag.",
    "Just a sec, the card's in my coat.", "Hold on, I need to find my glasses, I can't read the back.",
    "Sorry, my husband has the card, let me get it off him.", "Can you give me a moment? It's in the kitchen.",
    "Oh no, hold on, I need to fetch it from the desk downstairs.",
]
P["wait_agent"] = ["No problem, take your time.", "Sure, I'll wait.", "That's fine, I'm here.", "Of course, no rush.",
                   "No worries, I'll hold on.", "That's okay, I'm not going anywhere."]
P["wait_back"] = ["Right, sorry about that, I've got it now.", "Okay, I'm back.", "Found it, sorry.",
                  "Sorry for the wait, go on.", "Got it, sorry, where were we?", "Back again, sorry."]
P["wait_agent_back"] = ["No worries.", "Welcome back.", "That's alright.", "Great, thanks."]
P["dtmf_intro"] = ["For your security, I'll switch you over to keypad entry.",
                   "I'm going to pass you to our automated keypad, it only takes a moment.",
                   "We do this bit on the keypad so I don't hear it.",
                   "This part is done with the buttons on your phone."]
P["dtmf_prompt"] = [
    "Please key it in now, followed by the hash key.", "You'll hear a short beep, then tap it in on your phone.",
    "Go ahead and press the numbers on your keypad now.", "When you're ready, type it in and press hash at the end.",
    "I'll go quiet while you enter it on the keypad.", "Just punch it in on the phone for me now.",
    "Use your keypad for this bit, I won't hear it.", "Okay, please enter it now using the dial pad.",
    "Tap those in on your phone now, then the hash.", "Go ahead with the buttons now.",
    "Press them in on the handset whenever you like.", "Over to your keypad now, please.",
]
P["dtmf_next"] = ["Now the next one the same way.", "And again on the keypad, please.", "Same again for the next bit.",
                  "Lovely, and the following one.", "Great, one more time on the buttons.", "And now the next part, please."]
P["dtmf_done"] = ["Done.", "Okay, that's in.", "I think that worked.", "Did that go?", "Finished.", "There you go."]
P["readback_intro"] = ["Let me just repeat that,", "So that's", "I've got", "Just checking,", "Reading it back,", "So,"]
P["readback_tail"] = ["is that correct?", "yes?", "right?", "have I got that right?", "is that it?", "okay?"]
P["readback_yes"] = ["Yes, that's it.", "Correct.", "Spot on.", "That's right.", "Yep.", "Exactly."]
P["last4"] = ["And that's the card ending in {x}?", "So the one that finishes {x}.", "Okay, card ending {x}, noted.",
              "I'll use the card ending {x}.", "That's your card finishing in {x}, yes?", "Card ending {x}, perfect."]
P["exp_readback"] = ["So it's good until {x}.", "Expiring {x}, lovely.", "Got it, {x}.", "Okay, {x}, thanks."]
P["confirm_ok"] = [
    "Brilliant, that's gone through for you.", "Payment approved, thank you.", "Lovely, the payment has been authorised.",
    "That's been accepted, all done.", "Great news, it's gone through successfully.", "That's processed now, thank you.",
    "All done, the payment went through fine.", "Perfect, the transaction is complete.",
    "Okay, that's been taken, thank you.", "You're all paid up now.",
]
P["confirm_neg_retry"] = [
    "Hmm, it didn't go through. Could you read the code again?",
    "That's been declined, I'm afraid. Can I check the security number once more?",
    "It hasn't gone through, sorry. Let me try the code again.",
    "The payment failed, can you give me the code on the back again?",
    "No, it's bounced back, I might have typed it wrong. The code again, please?",
    "It's not gone through yet, could you repeat the back code?",
]
P["confirm_question_agent"] = ["Has that gone through? Just waiting for the screen.", "Is it processing? Hang on.",
                               "Let's see if it's been approved.", "Has it been accepted? It's still thinking."]
P["confirm_question_customer"] = ["Has it gone through?", "Did that work?", "You've charged me twice before, you know.",
                                  "Last time it went through two times.", "Is it approved?", "Has the payment been taken yet?"]
P["not_yet"] = ["Not yet, I still need a couple of things.", "Not quite, I need a bit more first.",
                "Not so far, let me get the rest.", "Nearly, just the rest of the details."]
P["post_dist"] = ["Your reference for that is {x}.", "The receipt number is {x}.", "Your confirmation number is {x}.",
                  "Make a note of the reference, it's {x}.", "I'll give you a reference, it's {x}.",
                  "The transaction number is {x}."]
P["post_date"] = ["It should arrive on {x}.", "The engineer will come on {x}.", "You'll get the letter by {x}.",
                  "It renews again on {x}.", "Your booking is for {x}.", "The refund lands on {x}."]
P["post_time"] = ["They'll be with you around {x}.", "We open again at {x} tomorrow.", "The slot starts at {x}.",
                  "Expect a text at about {x}.", "The driver comes after {x}.", "We'll call you back at {x}."]
P["post_qty"] = ["That's {x} in the order.", "You'll receive {x}.", "I've added {x} to the account.",
                 "There are {x} on the delivery.", "We're sending {x}.", "I can see {x} on the booking."]
P["anything_else"] = ["Is there anything else I can do for you?", "Anything else today?", "Can I help with anything else?",
                      "Is there anything more I can sort out?", "Was there anything else at all?", "Any other questions?"]
P["nothing_else"] = ["No, that's everything, thanks.", "No, that's all.", "Nope, that's it.", "I think that's it.",
                     "No, you've been really helpful.", "That's all for now."]
P["bye_agent"] = ["Take care, and have a lovely day.", "Thanks for calling, bye now.", "Have a good one, goodbye.",
                  "Cheers, bye bye.", "Lovely speaking to you, take care.", "Enjoy the rest of your day."]
P["bye_customer"] = ["Bye.", "Thanks, bye.", "Cheers, you too.", "Goodbye.", "Ta, bye.", "See you."]
P["items"] = ["boxes", "parcels", "cartridges", "tickets", "filters", "vouchers", "bags", "towels", "bottles", "chairs"]


def split_pools(seed):
    """Disjoint halves of every pool: {"A": {...}, "B": {...}}."""
    halves = {"A": {}, "B": {}}
    for name, items in P.items():
        assert len(items) == len(set(items)), name
        order = list(items)
        random.Random(f"{seed}-{name}").shuffle(order)
        halves["A"][name] = order[0::2]
        halves["B"][name] = order[1::2]
    return halves


# --------------------------------------------------------------------------
# Numbers as words
# --------------------------------------------------------------------------
UNITS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
TEENS = ["ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen"]
TENS = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December"]
ORD = ["", "first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth", "eleventh",
       "twelfth", "thirteenth", "fourteenth", "fifteenth", "sixteenth", "seventeenth", "eighteenth", "nineteenth",
       "twentieth", "twenty-first", "twenty-second", "twenty-third", "twenty-fourth", "twenty-fifth",
       "twenty-sixth", "twenty-seventh", "twenty-eighth"]


def two(n, zero="oh"):
    """0..99 as spoken in pairs: 'oh four', 'ten', 'twenty-eight', 'forty'."""
    if n < 10:
        return f"{zero} {UNITS[n]}"
    if n < 20:
        return TEENS[n - 10]
    return TENS[n // 10] + ("" if n % 10 == 0 else "-" + UNITS[n % 10])


def digits_words(ds, zero="zero"):
    return " ".join(zero if d == "0" else UNITS[int(d)] for d in ds)


def digits_double(ds, zero="oh"):
    out, i = [], 0
    while i < len(ds):
        j = i
        while j < len(ds) and ds[j] == ds[i]:
            j += 1
        run = j - i
        w = zero if ds[i] == "0" else UNITS[int(ds[i])]
        while run > 0:
            if run >= 3 and run != 4:
                out.append("triple " + w); run -= 3
            elif run >= 2:
                out.append("double " + w); run -= 2
            else:
                out.append(w); run -= 1
        i = j
    return " ".join(out)


def digits_pairs(ds):
    out = []
    for i in range(0, len(ds) - 1, 2):
        out.append(two(int(ds[i:i + 2])))
    if len(ds) % 2:
        out.append(UNITS[int(ds[-1])])
    return " ".join(out)


def number_words(n):
    """Cardinal 0..9999 in words ('one hundred and twenty')."""
    if n < 10:
        return UNITS[n]
    if n < 100:
        return two(n)
    if n < 1000:
        h, r = divmod(n, 100)
        return UNITS[h] + " hundred" + ("" if r == 0 else " and " + number_words(r))
    t, r = divmod(n, 1000)
    return number_words(t) + " thousand" + ("" if r == 0 else (" and " if r < 100 else " ") + number_words(r))


def luhn_ok(ds):
    s = 0
    for i, c in enumerate(reversed(ds)):
        d = int(c)
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        s += d
    return s % 10 == 0


def make_pan(rng, brand):
    prefix, n = {"visa": ("4", 16), "mastercard": (rng.choice(["51", "52", "53", "54", "55", "2221", "2500"]), 16),
                 "amex": (rng.choice(["34", "37"]), 15), "discover": (rng.choice(["6011", "65"]), 16),
                 "other": (rng.choice(["3528", "6200", "9"]), 16)}[brand]
    body = prefix + "".join(rng.choice("0123456789") for _ in range(n - len(prefix) - 1))
    for c in "0123456789":
        if luhn_ok(body + c):
            return body + c


def pan_groups(pan):
    if len(pan) == 15:
        return [pan[:4], pan[4:10], pan[10:]]
    return [pan[i:i + 4] for i in range(0, len(pan), 4)]


# --------------------------------------------------------------------------
# Audio helpers
# --------------------------------------------------------------------------
def db(x):
    return 10 * np.log10(max(float(np.mean(np.square(x, dtype=np.float64))), 1e-12)) if len(x) else -120.0


def fft_resample_band(x, sr_in):
    """Resample to 8 kHz and band-limit to ~300-3400 Hz (raised-cosine edges)."""
    n = len(x)
    m = int(round(n * SR / sr_in))
    X = np.fft.rfft(x)
    f = np.fft.rfftfreq(n, 1.0 / sr_in)
    g = np.ones_like(f)
    lo = (f < 350)
    g[lo] = 0.5 - 0.5 * np.cos(np.pi * np.clip((f[lo] - 250) / 100, 0, 1))
    hi = (f > 3300)
    g[hi] = 0.5 + 0.5 * np.cos(np.pi * np.clip((f[hi] - 3300) / 200, 0, 1))
    X = X * g
    k = m // 2 + 1
    Y = np.zeros(k, dtype=complex)
    kk = min(k, len(X))
    Y[:kk] = X[:kk]
    return (np.fft.irfft(Y, m) * (m / n)).astype(np.float32)


def trim(x):
    """Cut to the audible extent: 5 ms frames within 35 dB of the loudest (and above -60 dBFS)."""
    fl = 40
    nf = len(x) // fl
    if nf == 0:
        return x
    e = np.array([db(x[i * fl:(i + 1) * fl]) for i in range(nf)])
    thr = max(e.max() - 35, -60 - 0)
    idx = np.nonzero(e > thr)[0]
    if len(idx) == 0:
        return x[:0]
    a = max(0, idx[0] * fl - 40)
    b = min(len(x), (idx[-1] + 1) * fl + 40)
    return x[a:b]


def active_db(x):
    fl = 160
    nf = len(x) // fl
    if nf == 0:
        return db(x)
    e = np.array([db(x[i * fl:(i + 1) * fl]) for i in range(nf)])
    sel = e > e.max() - 20
    frames = np.concatenate([x[i * fl:(i + 1) * fl] for i in np.nonzero(sel)[0]])
    return db(frames)


def read_wav_mono(path):
    import wave
    with wave.open(str(path)) as w:
        sr, ch, sw = w.getframerate(), w.getnchannels(), w.getsampwidth()
        raw = w.readframes(w.getnframes())
    x = np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768.0
    if ch > 1:
        x = x.reshape(-1, ch).mean(axis=1)
    return x, sr


def espeak_audio(voice, speed, pitch, text):
    """espeak-ng's audio for `text`, float32 at its 22.05 kHz."""
    wav = subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "-p", str(pitch), "--stdout", text],
                         check=True, capture_output=True).stdout
    # RIFF header from espeak --stdout: 44 bytes (sizes may be 0x7fffffff when streaming)
    data = wav[44:]
    return np.frombuffer(data[: len(data) // 2 * 2], dtype="<i2").astype(np.float32) / 32768.0, 22050


def synth_job(job):
    """Worker: (cache_path, kind, spec) -> cache file with trimmed 8 kHz float32 audio."""
    cache, kind, spec = job
    if os.path.exists(cache):
        return cache
    if kind == "espeak" and spec[0].startswith("flite:"):
        voice, stretch, _, text = spec
        with tempfile.TemporaryDirectory() as d:
            out = os.path.join(d, "x.wav")
            subprocess.run(["flite", "-voice", voice.split(":", 1)[1], "--setf", f"duration_stretch={stretch / 100}",
                            "-t", text, "-o", out], check=True, capture_output=True)
            x, sr = read_wav_mono(out)
        if len(x) < 800:
            # flite says nothing for a few texts: espeak's matching-gender voice says it instead
            # (rare; counted in the truth's voices only as flite).
            x, sr = espeak_audio("en-us+f3" if voice.endswith("slt") else "en-us+m3", 160, 50, text)
        y = trim(fft_resample_band(x, sr))
    elif kind == "espeak":
        x, sr = espeak_audio(*spec)
        y = trim(fft_resample_band(x, sr))
    else:  # allison: list of words
        words, gaps = spec
        parts = []
        for i, w in enumerate(words):
            x, sr = read_wav_mono(ALLISON / ALLISON_FILE[w])
            parts.append(trim(fft_resample_band(x, sr)))
            if i + 1 < len(words):
                parts.append(np.zeros(int(gaps[i] * SR), dtype=np.float32))
        y = np.concatenate(parts) if parts else np.zeros(0, np.float32)
    tmp = cache + f".{os.getpid()}.tmp.npy"
    np.save(tmp, y.astype(np.float32))
    os.replace(tmp, cache)
    return cache


ALLISON_FILE = {w: f"{i}.wav" for i, w in enumerate(UNITS)}
ALLISON_FILE.update({w: f"{10 + i}.wav" for i, w in enumerate(TEENS)})
ALLISON_FILE.update({TENS[i]: f"{i * 10}.wav" for i in range(2, 10)})
ALLISON_FILE.update({m: f"mon-{i}.wav" for i, m in enumerate(MONTHS)})
ALLISON_FILE["oh"] = "oh.wav"


def allison_words(text):
    """'twenty-eight oh four' -> ['twenty','eight','oh','four'] if every word has a recording, else None."""
    ws = [w for w in re.split(r"[\s,\-.]+", text) if w]
    return ws if all(w in ALLISON_FILE for w in ws) else None


# DTMF
DTMF_LOW = {"1": 697, "2": 697, "3": 697, "A": 697, "4": 770, "5": 770, "6": 770, "B": 770,
            "7": 852, "8": 852, "9": 852, "C": 852, "*": 941, "0": 941, "#": 941, "D": 941}
DTMF_HIGH = {"1": 1209, "4": 1209, "7": 1209, "*": 1209, "2": 1336, "5": 1336, "8": 1336, "0": 1336,
             "3": 1477, "6": 1477, "9": 1477, "#": 1477, "A": 1633, "B": 1633, "C": 1633, "D": 1633}


def freq_dev(rng):
    r = rng.random()
    mag = rng.uniform(1.5, 3.0) if r < 0.55 else (rng.uniform(3.0, 3.5) if r < 0.75 else rng.uniform(0, 1.5))
    return mag * rng.choice([-1, 1]) / 100.0


# --------------------------------------------------------------------------
# Script building
# --------------------------------------------------------------------------
NUMBER_WORD_RE = re.compile(r"\b(" + "|".join(UNITS + TEENS + [t for t in TENS if t] + [
    "hundred", "thousand", "double", "triple", "oh"] + ORD[1:21]) + r")\b|\d", re.I)


class Call:
    """Collects the script of one call: a list of events, then rendered."""

    def __init__(self, cid, half, pools, rng, voices):
        self.cid, self.half, self.pools, self.rng = cid, half, pools, rng
        self.events = []
        self.spans = {}      # key -> meta of a sensitive span
        self.allowed = {}    # key -> meta
        self.dists = {}      # key -> meta
        self.voices = voices  # speaker -> voice key
        self.exchanges = []  # dicts: kind, variation
        self.tags = set()
        self.nkey = 0

    def pick(self, pool):
        return self.rng.choice(self.pools[pool])

    def key(self):
        self.nkey += 1
        return f"k{self.nkey}"

    def say(self, speaker, chunks, gap=None, tags=()):
        """chunks: list of (text, opts) or str; opts: span=key, allowed=key, dist=key, real=bool, num=bool."""
        cs = []
        for c in chunks:
            if isinstance(c, str):
                c = (c, {})
            if c[0]:
                cs.append(c)
        if gap is None:
            gap = self.rng.uniform(0.3, 0.75)
        self.events.append({"type": "say", "speaker": speaker, "chunks": cs, "gap": gap, "tags": list(tags)})

    def pause(self, dur):
        self.events.append({"type": "pause", "dur": dur})

    def dtmf(self, keys, key, gap=None, over=None):
        self.events.append({"type": "dtmf", "keys": keys, "key": key, "gap": gap or self.rng.uniform(0.8, 2.0),
                            "over": over})


def join_texts(parts):
    out = ""
    for p in parts:
        out = p if not out else (out + p if p[:1] in ".,?!;:" else out + " " + p)
    return out


def pan_reading(rng, pan, style, zero="zero"):
    """Chunks (list of (text, digits)) for one spoken PAN; groups kept separate."""
    gs = pan_groups(pan)
    if style == "one_breath":
        return [(digits_words(pan, zero), pan)]
    if style == "double_triple":
        return [(digits_double(g), g) for g in gs]
    if style == "pairs":
        return [(digits_pairs(g), g) for g in gs]
    if style == "oh_zero":
        return [(digits_words(g, "oh"), g) for g in gs]
    return [(digits_words(g, zero), g) for g in gs]


def expiry_reading(rng, mm, yy, style):
    m = int(mm)
    y = int(yy)
    if style == "mm_yy":
        return f"{two(m)}, {two(y)}"
    if style == "month_yy":
        return f"{MONTHS[m - 1]} {two(y)}"
    if style == "month_full":
        return f"{MONTHS[m - 1]} twenty {two(y)}"
    if style == "slash":
        return f"{digits_words(mm)} slash {digits_words(yy)}"
    if style == "compact":
        return f"{UNITS[m] if m < 10 else two(m)} {two(y)}"
    return f"{digits_words(mm, 'oh')} {digits_words(yy, 'oh')}"  # digits


def cvv_reading(rng, cvv):
    r = rng.random()
    if len(cvv) == 3 and r < 0.3 and cvv[1] != "0":
        return f"{UNITS[int(cvv[0])]} {two(int(cvv[1:]))}"
    if r < 0.55:
        return digits_words(cvv, "oh")
    return digits_words(cvv)


def build_call(cid, half, pools, seed, idx):
    rng = random.Random(f"{seed}-{half}-{idx}")
    vkeys = sorted(ACTIVE_VOICES)
    av = rng.choice(vkeys)
    cv = rng.choice([v for v in vkeys if v != av])
    c = Call(cid, half, pools, rng, {"agent": av, "customer": cv})
    # Call-level features: rotate so that every feature is in many calls of each half.
    mode = ["spoken", "spoken", "dtmf", "spoken", "mixed", "spoken", "dtmf", "spoken", "spoken", "mixed"][idx % 10]
    real = rng.random() < 0.45
    long_wait = idx % 5 == 2
    echo = None
    if idx % 4 == 1:
        echo = {"from": "customer", "to": "agent"} if idx % 12 != 9 else {"from": "agent", "to": "customer"}
        echo.update({"gain_db": round(rng.uniform(-23, -18), 1), "delay_s": round(rng.uniform(0.02, 0.06), 4)})
    c.echo = echo
    c.mode = mode
    brand = rng.choice(["visa", "visa", "mastercard", "mastercard", "amex", "discover", "other"])
    pan = make_pan(rng, brand)
    cvv = "".join(rng.choice("0123456789") for _ in range(4 if brand == "amex" else 3))
    mm = f"{rng.randint(1, 12):02d}"
    yy = f"{rng.randint(25, 33):02d}"
    c.payment = {"payment_mode": mode, "brand": brand, "pan": pan, "cvv": cvv, "expiry": mm + yy}
    base_tags = []
    if real and mode != "dtmf":
        c.tags.add("real_voice")
    if long_wait:
        c.tags.add("long_wait")
    if echo:
        c.tags.add("echo_" + echo["from"] + "_to_" + echo["to"])
        base_tags.append("echo")

    def dist_chunk(kind, text, digits, speaker):
        k = c.key()
        c.dists[k] = {"kind": kind, "text": text, "digits": digits, "speaker": speaker}
        return (text, {"dist": k, "num": True})

    def phone():
        while True:
            d = "".join(rng.choice("23456789")) + "".join(rng.choice("0123456789") for _ in range(9))
            if not any(d[i:i + 6] in pan for i in range(5)):
                return d, f"{digits_words(d[:3], rng.choice(['zero', 'oh']))}, {digits_words(d[3:6])}, {digits_words(d[6:])}"

    def order():
        n = rng.randint(8, 12)
        while True:
            d = rng.choice("123456789") + "".join(rng.choice("0123456789") for _ in range(n - 1))
            if not luhn_ok(d) and not any(d[i:i + 6] in pan for i in range(n - 5)):
                break
        gs = [d[i:i + 3] for i in range(0, n, 3)] if rng.random() < 0.5 else [d[i:i + 4] for i in range(0, n, 4)]
        return d, ", ".join(digits_words(g, rng.choice(["zero", "oh"])) for g in gs)

    def amount():
        r = rng.random()
        if r < 0.4:
            a, b = rng.randint(11, 99), rng.choice([99, 50, 95, 49, 25])
            return f"{a}{b}", f"{two(a)} {two(b)}"
        if r < 0.7:
            a = rng.randint(101, 480)
            return str(a), f"{number_words(a)} dollars"
        a, b = rng.randint(5, 90), rng.choice([10, 20, 50, 75])
        return f"{a}{b}", f"{number_words(a)} pounds {two(b)}"

    def date_words():
        m, d = rng.randint(1, 12), rng.randint(1, 28)
        t = f"the {ORD[d]} of {MONTHS[m - 1]}" if rng.random() < 0.5 else f"{MONTHS[m - 1]} {ORD[d]}"
        return f"{m:02d}{d:02d}", t

    def dob():
        m, d, y = rng.randint(1, 12), rng.randint(1, 28), rng.randint(45, 99)
        return f"{m:02d}{d:02d}19{y}", f"{ORD[d]} of {MONTHS[m - 1]}, nineteen {two(y)}"

    def time_words():
        h = rng.randint(1, 12)
        r = rng.random()
        if r < 0.35:
            return f"{h}00", f"{number_words(h)} o'clock"
        if r < 0.7:
            mi = rng.choice([15, 30, 45, 20, 10])
            return f"{h}{mi}", f"{number_words(h)} {two(mi)}"
        return f"{h}30", f"half past {number_words(h)}"

    # ---- opening -------------------------------------------------------
    co, ag = c.pick("company"), c.pick("agent_name")
    c.say("agent", [c.pick("greet").replace("{co}", co).replace("{ag}", ag)], gap=0.5)
    c.say("customer", [c.pick("reason")])
    if not long_wait:
        c.say("agent", [c.pick("chat_agent")])
    idq = rng.sample(["phone", "zip", "order", "dob"], k=2 if not long_wait else 1)
    for q in idq:
        c.say("agent", [c.pick("ask_" + q)])
        if q == "phone":
            d, t = phone()
        elif q == "zip":
            d = "".join(rng.choice("0123456789") for _ in range(5))
            t = digits_words(d, rng.choice(["zero", "oh"]))
        elif q == "order":
            d, t = order()
        else:
            d, t = dob()
        tmpl = c.pick("say_" + q)
        pre, _, post = tmpl.partition("{x}")
        kind = {"phone": "phone", "zip": "postcode", "order": rng.choice(["order_number", "reference_number"]),
                "dob": "date_of_birth"}[q]
        c.say("customer", [pre.strip(), dist_chunk(kind, t, d, "customer"), post.strip()])
    c.say("agent", [c.pick("chat_agent")])
    if not long_wait and rng.random() < 0.6:
        c.say("customer", [c.pick("chat_customer")])
    d, t = amount()
    pre, _, post = c.pick("pay_intro").partition("{x}")
    c.say("agent", [pre.strip(), dist_chunk("amount", t, d, "agent"), post.strip()])
    c.say("customer", [c.pick("pay_accept")], tags=["near_payment"])

    # ---- payment ---------------------------------------------------------
    order_ex = ["pan"] + rng.sample(["cvv", "expiry"], 2)
    if rng.random() < 0.2:
        order_ex = ["expiry", "pan", "cvv"]
    dtmf_kinds = set()
    if mode == "dtmf":
        dtmf_kinds = {"pan", "cvv", "expiry"} if rng.random() < 0.7 else {"pan", "expiry"}
    elif mode == "mixed":
        dtmf_kinds = {rng.choice(["cvv", "expiry", "pan"])}
    wait_before = rng.choice([k for k in order_ex if k != "pan"]) if long_wait else None
    dtmf_started = False
    customer_q_done = False
    zero = rng.choice(["zero", "oh"])
    for i, kind in enumerate(order_ex):
        var = set(base_tags)
        if wait_before == kind:
            # the customer goes to fetch the card in the middle of payment talk
            c.say("customer", [c.pick("wait_customer")], tags=["near_payment"])
            c.say("agent", [c.pick("wait_agent")], tags=["near_payment"])
            w = rng.uniform(40, 60) if rng.random() < 0.75 else rng.uniform(60, 90)
            c.pause(w)
            c.say("customer", [c.pick("wait_back")], gap=0.2, tags=["near_payment"])
            c.say("agent", [c.pick("wait_agent_back")], tags=["near_payment"])
            var.add("long_wait")
        if kind in dtmf_kinds:
            var |= {"dtmf"}
            if not dtmf_started and rng.random() < 0.6:
                c.say("agent", [c.pick("dtmf_intro")], tags=["near_payment"])
            c.say("agent", [c.pick("dtmf_prompt") if not dtmf_started else c.pick("dtmf_next")], tags=["near_payment"])
            dtmf_started = True
            k = c.key()
            digits = {"pan": pan, "cvv": cvv, "expiry": mm + yy}[kind]
            over = rng.choice([None, None, "noise", "speech"])
            c.spans[k] = {"kind": "dtmf", "speaker": "customer", "digits": digits, "carries": kind,
                          "keys": digits + "#", "variation": sorted(var), "pan": pan if kind == "pan" else None}
            c.dtmf(digits + "#", k, over=over)
            if over == "speech":
                c.spans[k]["_over_speech"] = True
            if over == "speech" or rng.random() < 0.5:
                c.say("customer", [c.pick("dtmf_done")], tags=["near_payment"])
            c.exchanges.append({"kind": kind, "mode": "dtmf", "variation": c.spans[k]["variation"]})
            continue
        # --- spoken exchange
        digits_first = rng.random() < (0.2 if kind == "pan" else 0.4)
        novel = rng.random() < 0.75
        if digits_first:
            var.add("digits_first")
            c.say("agent", [c.pick("vague_prompt")], tags=["near_payment"])
        else:
            req = c.pick(f"{'exp' if kind == 'expiry' else kind}_req_{'novel' if novel else 'plain'}")
            if kind == "cvv" and brand == "amex":
                req = req.replace("three little", "four little").replace("3-digit", "4-digit").replace("three-digit", "four-digit").replace("three digit", "four digit")
            var.add("novel_context" if novel else "plain_context")
            c.say("agent", [req], tags=["near_payment"])
        use_real = real and rng.random() < 0.8
        if use_real:
            var.add("real_voice")
        k = c.key()
        if kind == "pan":
            style = rng.choice(["groups", "groups", "double_triple", "oh_zero", "one_breath", "pairs"])
            if use_real and style == "double_triple":
                style = "groups"
            rd = pan_reading(rng, pan, style, zero)
            layout = rng.choices(["together", "long_pauses", "fillers", "split_turns"], [20, 45, 17, 18])[0]
            if idx % 3 == 0:
                layout = "long_pauses"
            if digits_first:
                layout = "together"
            if style == "one_breath" and layout != "together":
                style = "groups"
                rd = pan_reading(rng, pan, style, zero)
            var.add("pan_" + style)
            meta = {"kind": "pan", "speaker": "customer", "digits": pan, "pan": pan, "style": style, "layout": layout}
            sub = {"real": use_real, "span": k, "num": True}
            pre = [] if digits_first or rng.random() < 0.3 else [c.pick("preface")]
            if layout == "together":
                chunks = pre + [(t + ("," if j + 1 < len(rd) else ""), dict(sub)) for j, (t, _) in enumerate(rd)]
                if digits_first:
                    chunks.append(c.pick("suffix_pan"))
                c.say("customer", chunks)
            elif layout == "fillers":
                var.add("fillers_between_groups")
                chunks = list(pre)
                for j, (t, _) in enumerate(rd):
                    chunks.append((t, dict(sub)))
                    if j + 1 < len(rd):
                        chunks.append((c.pick("group_filler") + ",", {"span": k}))
                c.say("customer", chunks)
            elif layout == "split_turns":
                var.add("split_turns")
                h = len(rd) // 2
                c.say("customer", pre + [(t, dict(sub)) for t, _ in rd[:h]])
                c.say("agent", [c.pick("split_mid")], tags=["near_payment"])
                c.say("customer", [(t, dict(sub)) for t, _ in rd[h:]])
            else:  # long pauses between groups, maybe fillers and agent backchannels
                var.add("long_pauses")
                for j, (t, _) in enumerate(rd):
                    chunks = list(pre) if j == 0 else []
                    if j > 0 and rng.random() < 0.4:
                        chunks.append((c.pick("group_filler") + ",", {"span": k}))
                        var.add("fillers_between_groups")
                    chunks.append((t, dict(sub)))
                    if j == 0:
                        c.say("customer", chunks)
                        continue
                    total = rng.uniform(3.5, 8.0)
                    if rng.random() < 0.6:
                        var.add("agent_backchannel")
                        g1 = rng.uniform(0.6, max(0.7, total - 2.0))
                        c.say("agent", [c.pick("backchannel")], gap=g1, tags=["backchannel"])
                        c.events[-1]["_fill_to"] = total  # the next customer chunk starts total after the group
                        c.say("customer", chunks, gap=None)
                        c.events[-1]["_after_group"] = total
                    else:
                        c.say("customer", chunks, gap=total)
            meta["variation"] = sorted(var)
            c.spans[k] = meta
            c.exchanges.append({"kind": "pan", "mode": "spoken", "variation": meta["variation"]})
            # read-back
            r = rng.random()
            if r < 0.4:
                k2 = c.key()
                rb = pan_reading(rng, pan, rng.choice(["groups", "oh_zero", "double_triple"]))
                ch = [c.pick("readback_intro")] + [(t + ",", {"span": k2, "num": True}) for t, _ in rb] + [c.pick("readback_tail")]
                c.say("agent", ch)
                c.spans[k2] = {"kind": "pan", "speaker": "agent", "digits": pan, "pan": pan, "readback": True,
                               "variation": sorted(set(base_tags) | {"readback_full"})}
                c.say("customer", [c.pick("readback_yes")], tags=["near_payment"])
            if r > 0.35:
                k3 = c.key()
                pre4, _, post4 = c.pick("last4").partition("{x}")
                l4 = pan[-4:]
                c.say("agent", [pre4.strip(), (digits_words(l4, rng.choice(["zero", "oh"])), {"allowed": k3, "num": True}),
                                post4.strip()])
                c.allowed[k3] = {"kind": "last4", "speaker": "agent", "digits": l4}
                if rng.random() < 0.5:
                    c.say("customer", [c.pick("readback_yes")], tags=["near_payment"])
        else:
            if kind == "cvv":
                t = cvv_reading(rng, cvv)
                digits = cvv
                suffix = "suffix_cvv"
            else:
                st = rng.choice(["mm_yy", "month_yy", "month_full", "slash", "compact", "digits"])
                t = expiry_reading(rng, mm, yy, st)
                digits = mm + yy
                suffix = "suffix_exp"
                var.add("expiry_" + st)
            meta = {"kind": kind, "speaker": "customer", "digits": digits}
            pre = [] if digits_first or rng.random() < 0.35 else [c.pick("preface")]
            chunks = pre + [(t + ("," if digits_first else "."), {"real": use_real, "span": k, "num": True})]
            if digits_first:
                chunks.append(c.pick(suffix))
            c.say("customer", chunks)
            meta["variation"] = sorted(var)
            c.spans[k] = meta
            c.exchanges.append({"kind": kind, "mode": "spoken", "variation": meta["variation"]})
            if kind == "expiry" and rng.random() < 0.3:
                k4 = c.key()
                pre5, _, post5 = c.pick("exp_readback").partition("{x}")
                c.say("agent", [pre5.strip(), (expiry_reading(rng, mm, yy, "month_full"), {"span": k4, "num": True}),
                                post5.strip()])
                c.spans[k4] = {"kind": "expiry", "speaker": "agent", "digits": mm + yy, "readback": True,
                               "variation": sorted(set(base_tags) | {"readback_full"})}
        # questions / non-closing confirmations between exchanges
        if i + 1 < len(order_ex) and not customer_q_done and rng.random() < 0.35:
            customer_q_done = True
            if rng.random() < 0.6:
                c.say("customer", [c.pick("confirm_question_customer")], tags=["near_payment", "non_closing"])
            else:
                c.say("agent", [c.pick("confirm_question_agent")], tags=["near_payment", "non_closing"])
            c.say("agent", [c.pick("not_yet")], tags=["near_payment"])
            c.tags.add("non_closing_confirmation")
    # ---- confirmation (maybe declined first, then the CVV again) --------
    if "cvv" not in dtmf_kinds and rng.random() < 0.35:
        c.say("agent", [c.pick("confirm_neg_retry").replace("three on the back", "digits on the back")],
              tags=["near_payment", "non_closing"])
        c.tags.add("negated_confirmation")
        k = c.key()
        var = set(base_tags) | {"after_negated_confirm"}
        use_real = real and rng.random() < 0.8
        if use_real:
            var.add("real_voice")
        pre = [] if rng.random() < 0.4 else [c.pick("preface")]
        c.say("customer", pre + [(cvv_reading(rng, cvv) + ".", {"real": use_real, "span": k, "num": True})])
        c.spans[k] = {"kind": "cvv", "speaker": "customer", "digits": cvv, "variation": sorted(var)}
        c.exchanges.append({"kind": "cvv", "mode": "spoken", "variation": sorted(var)})
    c.say("agent", [c.pick("confirm_ok")], gap=rng.uniform(1.0, 3.0), tags=["near_payment"])
    # ---- after payment: distractors and closing --------------------------
    post = rng.sample(["post_dist", "post_date", "post_time", "post_qty"], k=2 if not long_wait else 1)
    for pname in post:
        pre, _, postt = c.pick(pname).partition("{x}")
        if pname == "post_dist":
            d, t = order()
            kind = "reference_number"
        elif pname == "post_date":
            d, t = date_words()
            kind = "date"
        elif pname == "post_time":
            d, t = time_words()
            kind = "time"
        else:
            n = rng.randint(2, 12)
            d, t, kind = str(n), f"{number_words(n)} {c.pick('items')}", "quantity"
        c.say("agent", [pre.strip(), dist_chunk(kind, t, d, "agent"), postt.strip()], tags=["near_payment"])
    if not long_wait and rng.random() < 0.5:
        c.say("customer", [c.pick("chat_customer")])
    c.say("agent", [c.pick("anything_else")], tags=["near_payment"])
    c.say("customer", [c.pick("nothing_else")])
    c.say("agent", [c.pick("bye_agent")], tags=["near_payment"])
    c.say("customer", [c.pick("bye_customer")])
    return c


# --------------------------------------------------------------------------
# Rendering
# --------------------------------------------------------------------------
def voice_params(c, speaker):
    v, s, p, g = VOICES[c.voices[speaker]]
    return v, s, p


def chunk_job(c, speaker, text, opts, cache_dir):
    if opts.get("real"):
        words = allison_words(text)
        if words:
            h = hashlib.sha1(f"allison|{text}|{c.cid}|{opts.get('span')}".encode()).hexdigest()
            rng = random.Random(h)
            gaps = [rng.uniform(0.03, 0.16) for _ in words]
            return os.path.join(cache_dir, h + ".npy"), "allison", (words, gaps)
    v, s, p = voice_params(c, speaker)
    h = hashlib.sha1(f"espeak|{v}|{s}|{p}|{text}".encode()).hexdigest()
    return os.path.join(cache_dir, h + ".npy"), "espeak", (v, s, p, text)


def render(c, cache_dir):
    rng = random.Random(c.cid + "-render")
    level = {"agent": rng.uniform(-24, -18), "customer": rng.uniform(-26, -19)}
    noise_db = rng.uniform(-62, -58)
    # first pass: timeline length estimate → allocate generously
    segs = {"agent": [], "customer": []}  # (start_sample, audio)
    dtmf_track = []
    utts, chunk_rows = [], []
    t = 0.0
    last_end = 0.0
    group_end = 0.0
    for ev in c.events:
        if ev["type"] == "pause":
            t += ev["dur"]
            continue
        if ev["type"] == "dtmf":
            t0 = t + ev["gap"]
            tones = []
            tt = t0
            levels = []
            for key in ev["keys"]:
                dur = rng.uniform(0.04, 0.12)
                dl, dh = freq_dev(rng), freq_dev(rng)
                lvl = rng.uniform(-35, -20)
                twist = rng.uniform(-4, 4)
                fl, fh = DTMF_LOW[key] * (1 + dl), DTMF_HIGH[key] * (1 + dh)
                n = int(dur * SR)
                tv = np.arange(n) / SR
                al = 1.0
                ah = 10 ** (twist / 20)
                y = al * np.sin(2 * np.pi * fl * tv + rng.uniform(0, 6.28)) + ah * np.sin(2 * np.pi * fh * tv + rng.uniform(0, 6.28))
                ramp = min(40, n // 4)
                if ramp:
                    w = np.ones(n); w[:ramp] = np.linspace(0, 1, ramp); w[-ramp:] = np.linspace(1, 0, ramp)
                    y *= w
                y *= 10 ** (lvl / 20) / max(np.sqrt(np.mean(y ** 2)), 1e-9)
                dtmf_track.append((int(tt * SR), y.astype(np.float32)))
                tones.append({"key": key, "start": round(tt, 4), "end": round(tt + dur, 4), "low_hz": round(fl, 1),
                              "high_hz": round(fh, 1), "low_dev_pct": round(dl * 100, 2),
                              "high_dev_pct": round(dh * 100, 2), "level_dbfs": round(lvl, 1),
                              "twist_db": round(twist, 1)})
                levels.append(lvl)
                tt += dur + rng.uniform(0.06, 0.2)
            t_end = tones[-1]["end"]
            meta = c.spans[ev["key"]]
            meta["start"], meta["end"] = tones[0]["start"], t_end
            meta["tones"] = tones
            var = set(meta["variation"])
            if max(max(abs(x["low_dev_pct"]), abs(x["high_dev_pct"])) for x in tones) >= 1.5:
                var.add("dtmf_off_freq")
            if min(levels) <= -30:
                var.add("dtmf_low_level")
            if ev["over"] == "noise":
                j = rng.randrange(len(tones))
                a = tones[j]["start"] + rng.uniform(-0.02, 0.03)
                n = int(rng.uniform(0.03, 0.08) * SR)
                nz = np.array([rng.gauss(0, 1) for _ in range(n)], dtype=np.float32)
                nz = fft_resample_band(nz, SR)
                nz *= 10 ** (rng.uniform(-38, -30) / 20) / max(np.sqrt(np.mean(nz ** 2)), 1e-9)
                dtmf_track.append((int(a * SR), nz))
                var.add("dtmf_noise_over")
            meta["variation"] = sorted(var)
            t = t_end
            last_end = t
            if ev["over"] == "speech":
                # next customer utterance starts over the last tones
                meta["variation"] = sorted(var | {"dtmf_speech_over"})
                c._speech_over_at = tones[-2]["start"] + 0.02 if len(tones) > 1 else tones[-1]["start"]
            continue
        # say
        sp = ev["speaker"]
        gap = ev["gap"]
        start = t + gap
        if getattr(c, "_speech_over_at", None) is not None and sp == "customer":
            start = c._speech_over_at
            c._speech_over_at = None
        elif getattr(c, "_speech_over_at", None) is not None:
            c._speech_over_at = None
        if "_after_group" in ev:
            start = max(start, group_end + ev["_after_group"])
        pos = start
        rows = []
        for j, (text, opts) in enumerate(ev["chunks"]):
            path, kind, spec = chunk_job(c, sp, text, opts, cache_dir)
            a = np.load(path)
            if len(a) == 0:
                continue
            tgt = level[sp] + rng.gauss(0, 0.6)
            a = a * (10 ** (tgt / 20) / 10 ** (active_db(a) / 20))
            segs[sp].append((int(round(pos * SR)), a.astype(np.float32)))
            dur = len(a) / SR
            rows.append({"start": round(pos, 4), "end": round(pos + dur, 4), "text": text, "opts": opts,
                         "real": kind == "allison"})
            pos += dur
            if j + 1 < len(ev["chunks"]):
                nxt = ev["chunks"][j + 1][1]
                if opts.get("span") and nxt.get("span"):
                    pos += rng.uniform(0.25, 0.6)  # between groups
                else:
                    pos += rng.uniform(0.08, 0.22)
        if not rows:
            continue
        uid = len(utts)
        text = join_texts(r["text"] for r in rows)
        has_num = any(r["opts"].get("num") or r["opts"].get("span") for r in rows) or bool(NUMBER_WORD_RE.search(text))
        sens = any(r["opts"].get("span") for r in rows)
        u = {"id": uid, "speaker": sp, "start": rows[0]["start"], "end": rows[-1]["end"], "text": text,
             "sensitive": sens, "has_number": has_num, "words": len(text.split()), "tags": ev["tags"],
             "voice": "allison(real)" if any(r["real"] for r in rows) and all(r["real"] for r in rows if r["opts"].get("span")) else c.voices[sp]}
        if len(rows) > 1 or sens:
            u["chunks"] = [{"start": r["start"], "end": r["end"], "text": r["text"],
                            "kind": ("sensitive" if r["opts"].get("span") else "allowed" if r["opts"].get("allowed")
                                     else "distractor" if r["opts"].get("dist") else "speech"),
                            **({"real_voice": True} if r["real"] else {})} for r in rows]
        utts.append(u)
        for r in rows:
            for fld, store in (("span", c.spans), ("allowed", c.allowed), ("dist", c.dists)):
                k = r["opts"].get(fld)
                if k:
                    m = store[k]
                    m.setdefault("_rows", []).append((r, uid))
        if sp == "customer" and any(r["opts"].get("span") for r in rows):
            group_end = rows[-1]["end"]
        if ev["speaker"] == "agent" and "backchannel" in ev["tags"]:
            pass
        t = max(t, rows[-1]["end"]) if "backchannel" not in ev["tags"] else rows[-1]["end"]
        last_end = max(last_end, t)
    total = last_end + rng.uniform(0.8, 1.5)
    n = int(total * SR) + SR
    own = {sp: np.zeros(n, np.float32) for sp in segs}
    for sp, lst in segs.items():
        for s0, a in lst:
            own[sp][s0:s0 + len(a)] += a[: max(0, n - s0)]
    dt = np.zeros(n, np.float32)
    for s0, a in dtmf_track:
        dt[s0:s0 + len(a)] += a[: max(0, n - s0)]
    chan = {"agent": own["agent"].copy(), "customer": own["customer"] + dt}
    if c.echo:
        src = chan[c.echo["from"]].copy()
        d = int(c.echo["delay_s"] * SR)
        g = 10 ** (c.echo["gain_db"] / 20)
        chan[c.echo["to"]][d:] += g * src[: n - d]
    nrng = np.random.default_rng(int(hashlib.sha1(c.cid.encode()).hexdigest()[:8], 16))
    for sp in chan:
        nz = nrng.standard_normal(n).astype(np.float32)
        nz = fft_resample_band(nz, SR)[:n]
        nz *= 10 ** (noise_db / 20) / np.sqrt(np.mean(nz ** 2))
        chan[sp] = chan[sp] + nz
    # spans
    sensitive = []
    for k, m in c.spans.items():
        if m["kind"] != "dtmf":
            rows = m.pop("_rows")
            dig = [r for r, _ in rows if r["opts"].get("num")]
            m["start"] = min(r["start"] for r in dig)
            m["end"] = max(r["end"] for r in dig)
            m["text"] = join_texts(r["text"] for r, _ in rows)
            m["utterance"] = rows[0][1]
            m["utterances"] = sorted({u for _, u in rows})
            m["real_voice"] = all(r["real"] for r in dig)
            if not m["real_voice"] and "real_voice" in m["variation"]:
                m["variation"] = [v for v in m["variation"] if v != "real_voice"]
        else:
            m["text"] = " ".join(m["keys"])
            m["utterance"] = None
        m.pop("_over_speech", None)
        if m.get("pan") is None:
            m.pop("pan", None)
        sensitive.append(m)
    sensitive.sort(key=lambda m: m["start"])
    for i, m in enumerate(sensitive):
        m["id"] = i
        m["start"], m["end"] = round(m["start"], 4), round(m["end"], 4)
    allowed = []
    for k, m in c.allowed.items():
        rows = m.pop("_rows")
        m.update({"start": rows[0][0]["start"], "end": rows[-1][0]["end"], "text": " ".join(r["text"] for r, _ in rows),
                  "utterance": rows[0][1]})
        allowed.append(m)
    dists = []
    for k, m in c.dists.items():
        rows = m.pop("_rows")
        m.update({"start": rows[0][0]["start"], "end": rows[-1][0]["end"], "utterance": rows[0][1]})
        dists.append(m)
    # voiced spans from each speaker's own speech (no echo, no DTMF)
    speakers = {}
    for sp in ("agent", "customer"):
        x = own[sp]
        fl = SR // 50
        nf = len(x) // fl
        e = 10 * np.log10(np.maximum(np.mean(np.square(x[: nf * fl].reshape(nf, fl), dtype=np.float64), axis=1), 1e-12))
        on = e > -40
        spans = []
        i = 0
        while i < nf:
            if on[i]:
                j = i
                while j < nf and on[j]:
                    j += 1
                spans.append([i * 0.02, j * 0.02])
                i = j
            else:
                i += 1
        merged = []
        for s in spans:
            if merged and s[0] - merged[-1][1] < 0.3:
                merged[-1][1] = s[1]
            else:
                merged.append(s)
        merged = [[round(a, 2), round(b, 2)] for a, b in merged if b - a >= 0.1]
        words = sum(u["words"] for u in utts if u["speaker"] == sp)
        tt = sum(b - a for a, b in merged)
        speakers[sp] = {"talk_time_s": round(tt, 2), "words": words, "wpm": round(words / max(tt, 1e-9) * 60, 1),
                        "voiced_spans": merged}
    # silences ≥ 2 s in the union of both channels' activity (incl. DTMF)
    truth = {
        "schema": "callscope-payment-eval/1",
        "call_id": c.cid, "set": c.half, "duration_s": round(n / SR, 3), "sample_rate": SR,
        "channels": {"0": "agent", "1": "customer"}, "files": {"mulaw": c.cid + ".wav"},
        "voices": {sp: {"engine": "flite" if VOICES[c.voices[sp]][0].startswith("flite:") else "espeak-ng",
                        "voice": c.voices[sp], "espeak": VOICES[c.voices[sp]][0],
                        "gender": VOICES[c.voices[sp]][3]} for sp in ("agent", "customer")},
        "levels_dbfs": {"agent_active": round(level["agent"], 1), "customer_active": round(level["customer"], 1),
                        "noise_rms": round(noise_db, 1)},
        "payment": {k: v for k, v in c.payment.items()},
        "echo": c.echo, "call_tags": sorted(c.tags),
        "exchanges": c.exchanges,
        "utterances": utts, "sensitive": sensitive, "allowed": allowed, "distractors": dists,
        "speakers": speakers,
        "measurement": {"frame_ms": 20, "vad_threshold_dbfs": -40.0, "vad_bridge_s": 0.3, "vad_min_span_s": 0.1,
                        "sensitive": "extent of the rendered digit chunks (first to last, incl. pauses between groups)"},
        "generator": "scripts/gen-payment-calls.py",
    }
    return truth, chan["agent"][:n], chan["customer"][:n]


def mulaw_encode(x):
    s = np.clip(np.round(x * 32768.0), -32768, 32767).astype(np.int32)
    sign = (s < 0).astype(np.int32)
    mag = np.minimum(np.abs(s), 32635) + 0x84
    exp = np.clip(np.floor(np.log2(mag)).astype(np.int32) - 7, 0, 7)
    mant = (mag >> (exp + 3)) & 0x0F
    return (~((sign << 7) | (exp << 4) | mant) & 0xFF).astype(np.uint8)


def write_mulaw_wav(path, left, right):
    inter = np.empty(len(left) * 2, np.uint8)
    inter[0::2] = mulaw_encode(left)
    inter[1::2] = mulaw_encode(right)
    data = inter.tobytes()
    fmt = struct.pack("<HHIIHHH", 7, 2, SR, SR * 2, 2, 8, 0)
    fact = struct.pack("<I", len(left))
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"fact" + struct.pack("<I", 4) + fact + \
        b"data" + struct.pack("<I", len(data)) + data + (b"\0" if len(data) % 2 else b"")
    tmp = str(path) + ".tmp"
    with open(tmp, "wb") as f:
        f.write(b"RIFF" + struct.pack("<I", len(body)) + body)
    os.replace(tmp, path)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="/work/gen/payment")
    ap.add_argument("--calls", type=int, default=36, help="calls per half")
    ap.add_argument("--seed", default="14")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--voices", choices=sorted(VOICE_SETS), default="espeak",
                    help="voice family the calls draw from (flite needs: apt-get install -y flite)")
    ap.add_argument("--call-seed", default=None,
                    help="seed for the calls themselves (default --seed); --seed alone splits the phrase "
                         "pools, so a new --call-seed gives new calls with the same tune/test wording halves")
    args = ap.parse_args()
    global ACTIVE_VOICES
    ACTIVE_VOICES = VOICE_SETS[args.voices]
    if args.voices != "espeak" and not shutil.which("flite"):
        sys.exit("flite is missing: sudo apt-get install -y flite")
    if not shutil.which("espeak-ng"):
        sys.exit("espeak-ng is missing: sudo apt-get install -y espeak-ng")
    if not ALLISON.is_dir():
        sys.exit(f"real digit recordings not found at {ALLISON}")
    t0 = time.time()
    out = Path(args.out)
    cache = out / ".cache"
    cache.mkdir(parents=True, exist_ok=True)
    halves = split_pools(args.seed)
    calls = []
    for half, pool_key, prefix in (("tune", "A", "tune"), ("test", "B", "test")):
        (out / half).mkdir(parents=True, exist_ok=True)
        for i in range(args.calls):
            calls.append(build_call(f"{prefix}-{i + 1:03d}", half, halves[pool_key],
                                    args.call_seed or args.seed, i))
    # synthesise every chunk once (parallel, cached)
    jobs = {}
    for c in calls:
        for ev in c.events:
            if ev["type"] == "say":
                for text, opts in ev["chunks"]:
                    p, k, s = chunk_job(c, ev["speaker"], text, opts, str(cache))
                    jobs[p] = (p, k, s)
    todo = [j for p, j in jobs.items() if not os.path.exists(p)]
    print(f"{len(calls)} calls, {len(jobs)} chunks ({len(todo)} to synthesise)", file=sys.stderr)
    with ProcessPoolExecutor(max_workers=args.jobs) as ex:
        list(ex.map(synth_job, todo, chunksize=16))
    summary = {"seed": args.seed, "pools": {name: {"A": len(halves["A"][name]), "B": len(halves["B"][name])}
                                            for name in P}}
    for half in ("tune", "test"):
        hs = [c for c in calls if c.half == half]
        with ProcessPoolExecutor(max_workers=args.jobs) as ex:
            truths = list(ex.map(render_write, [(c, str(cache), str(out / half)) for c in hs]))
        ex_kind, ex_var, span_kind, span_var, voices = Counter(), Counter(), Counter(), Counter(), Counter()
        calls_with = defaultdict(set)
        durs = []
        for t in truths:
            durs.append(t["duration_s"])
            voices[t["voices"]["agent"]["voice"]] += 1
            voices[t["voices"]["customer"]["voice"]] += 1
            for e in t["exchanges"]:
                ex_kind[e["kind"] + "/" + e["mode"]] += 1
            for s in t["sensitive"]:
                span_kind[s["kind"]] += 1
                for v in s["variation"]:
                    span_var[v] += 1
                    calls_with[v].add(t["call_id"])
                if s.get("real_voice"):
                    voices["allison(real digits)"] += 0
            for v in t["call_tags"]:
                calls_with[v].add(t["call_id"])
        summary[half] = {
            "calls": len(truths), "duration_s": {"total": round(sum(durs), 1), "min": min(durs), "max": max(durs)},
            "exchanges": sum(ex_kind.values()), "exchanges_by_kind": dict(sorted(ex_kind.items())),
            "sensitive_spans": sum(span_kind.values()), "spans_by_kind": dict(sorted(span_kind.items())),
            "spans_by_variation": dict(sorted(span_var.items())),
            "calls_by_variation": {k: len(v) for k, v in sorted(calls_with.items())},
            "allowed_last4": sum(len(t["allowed"]) for t in truths),
            "distractors": sum(len(t["distractors"]) for t in truths),
            "voices": dict(sorted(voices.items())) | {"allison(real digits)": sum(
                1 for t in truths for s in t["sensitive"] if s.get("real_voice"))},
        }
        s = summary[half]
        print(f"== {half}: {s['calls']} calls, {s['duration_s']['total']:.0f} s "
              f"({s['duration_s']['min']:.0f}-{s['duration_s']['max']:.0f} s), {s['exchanges']} exchanges "
              f"{s['exchanges_by_kind']}, {s['sensitive_spans']} sensitive spans {s['spans_by_kind']}, "
              f"{s['allowed_last4']} last-four, {s['distractors']} distractors")
        print(f"   voices: {s['voices']}")
        print(f"   spans by variation: {s['spans_by_variation']}")
        print(f"   calls by variation: {s['calls_by_variation']}")
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    print(f"done in {time.time() - t0:.0f} s -> {out}", file=sys.stderr)


def render_write(args):
    c, cache, outdir = args
    truth, left, right = render(c, cache)
    write_mulaw_wav(Path(outdir) / f"{c.cid}.wav", left, right)
    (Path(outdir) / f"{c.cid}.truth.json").write_text(json.dumps(truth, indent=1))
    return truth


if __name__ == "__main__":
    main()
