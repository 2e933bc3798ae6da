"""The points till (会员积分收银台): a loyalty-aware point-of-sale client and its HQ server."""

__version__ = "0.1.0"
