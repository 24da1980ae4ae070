"""A local emulator of the Lightspeed Retail (R-Series) API: OAuth, resources, quirks, rate limits."""
