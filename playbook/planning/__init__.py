"""Planning a season: history of past seasons, season patterns (event-aligned YoY, peaks, ramp), targets, funnel, promo calendar, lessons from earlier retrospectives, forecast accuracy."""
