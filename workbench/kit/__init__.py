"""The kit every room shares: errors, paths, the config field specs and checks, CLI helpers,
atomic files and the asyncio bridge. It imports nothing from the rooms."""
