"""The assistant's one voice: the shop's name and how it calls itself and the customer.

Vietnamese has no neutral "I" and "you": a support bot picks a pair ("em" / "anh/chị" for a
shop, "mình" / "bạn" for a younger brand) and must keep it everywhere. Every customer-facing
text of the bot (bot/domain.yml), the action server and the hub is written as a template with
these placeholders, and the hub renders it once, just before it is stored and sent:

    $shop   the shop's name              "Sao Mai Shop"
    $em     the bot / agent, itself      "em"        ($Em at the start of a sentence)
    $kh     the customer                 "anh/chị"   ($Kh at the start of a sentence)

`string.Template` syntax (not `{}`): Rasa interpolates `{slot}` in responses itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from string import Template


def _capitalised(word: str) -> str:
    return word[:1].upper() + word[1:]


@dataclass(frozen=True)
class Persona:
    shop: str = "Sao Mai Shop"
    self_name: str = "em"
    customer: str = "anh/chị"

    def render(self, text: str) -> str:
        if "$" not in text:
            return text
        return Template(text).safe_substitute(
            shop=self.shop,
            em=self.self_name,
            Em=_capitalised(self.self_name),
            kh=self.customer,
            Kh=_capitalised(self.customer),
        )


DEFAULT = Persona()
