"""One module per notebook (plan, segment, personalize, test, retrospective) plus the step context every notebook starts and finishes with (context.py). See docs/architecture.md."""
