"""Components under a relations reply: a quote for each link, pages, and the picture."""

from __future__ import annotations

import io
from collections.abc import Awaitable, Callable
from typing import Any

import discord

from bot.exts.relations._embeds import PICTURE, map_embed, page_links, pages, quote_embed
from bot.relations_text import link_line
from bot.ui import NO_PINGS, shorten
from index import Picture, Relations

# Runs a blocking call in the engine's threads (VerbatimBot.run_engine).
RunEngine = Callable[..., Awaitable[Any]]


def picture_file(picture: Picture) -> discord.File:
    """Wrap the PNG as the attachment the embed shows."""
    return discord.File(io.BytesIO(picture.png), filename=PICTURE)


class LinkQuotes(discord.ui.Select["MapView"]):
    """A menu of the page's links; picking one shows the sentences it rests on."""

    def __init__(self, relations: Relations, page: int) -> None:
        graph = relations.graph
        options = [
            discord.SelectOption(
                label=shorten(link_line(graph, link), 100),
                value=str(number),
                description=shorten(link.kind, 100),
            )
            for number, link in page_links(relations, page)
        ]
        super().__init__(placeholder="Show the quote for a link…", options=options, row=0)
        self.relations = relations

    async def callback(self, interaction: discord.Interaction) -> None:
        """Send the chosen link's quote privately."""
        embed = quote_embed(self.relations, int(self.values[0]))
        await interaction.response.send_message(
            embed=embed, ephemeral=True, allowed_mentions=NO_PINGS
        )


class MapView(discord.ui.View):
    """The quote menu and, for long lists, previous/next page buttons."""

    def __init__(self, relations: Relations, left_out: int, *, timeout: float = 900) -> None:
        super().__init__(timeout=timeout)
        self.relations = relations
        self.left_out = left_out
        self.page = 0
        self.menu = LinkQuotes(relations, 0)
        self.add_item(self.menu)
        if pages(relations) == 1:
            self.remove_item(self.previous)
            self.remove_item(self.next)
        self._update_buttons()

    def _update_buttons(self) -> None:
        """Grey out the buttons that would turn past the first or the last page."""
        self.previous.disabled = self.page == 0
        self.next.disabled = self.page >= pages(self.relations) - 1

    async def _turn(self, interaction: discord.Interaction, step: int) -> None:
        """Show the page `step` away, with its own quote menu."""
        self.page = min(max(0, self.page + step), pages(self.relations) - 1)
        self.remove_item(self.menu)
        self.menu = LinkQuotes(self.relations, self.page)
        self.add_item(self.menu)
        self._update_buttons()
        embed = map_embed(self.relations, self.page, left_out=self.left_out)
        await interaction.response.edit_message(embed=embed, view=self)

    @discord.ui.button(label="Previous", style=discord.ButtonStyle.secondary, row=1)
    async def previous(
        self, interaction: discord.Interaction, button: discord.ui.Button[MapView]
    ) -> None:
        """Show the previous page of links."""
        await self._turn(interaction, -1)

    @discord.ui.button(label="Next", style=discord.ButtonStyle.secondary, row=1)
    async def next(
        self, interaction: discord.Interaction, button: discord.ui.Button[MapView]
    ) -> None:
        """Show the next page of links."""
        await self._turn(interaction, 1)


class PictureView(discord.ui.View):
    """Offer the picture of the links under /ask's reply to a who-spoke-with-whom question."""

    def __init__(
        self,
        relations: Relations,
        run_engine: RunEngine,
        draw: Callable[[Relations], Picture],
        *,
        timeout: float = 900,
    ) -> None:
        super().__init__(timeout=timeout)
        self.relations = relations
        self.run_engine = run_engine
        self.draw = draw
        if not relations.answered:
            self.remove_item(self.picture)

    @discord.ui.button(label="Show picture", style=discord.ButtonStyle.secondary, emoji="🗺️")
    async def picture(
        self, interaction: discord.Interaction, button: discord.ui.Button[PictureView]
    ) -> None:
        """Draw the graph and send it privately, with the list of links."""
        await interaction.response.defer(ephemeral=True, thinking=True)
        picture = await self.run_engine(self.draw, self.relations)
        await interaction.followup.send(
            embed=map_embed(self.relations, 0, left_out=picture.left_out),
            file=picture_file(picture),
            ephemeral=True,
            allowed_mentions=NO_PINGS,
        )
