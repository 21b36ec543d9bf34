"""What each customer is worth and should get: CLV (BG/NBD, Gamma-Gamma), propensity, recommendations, offers, send time, audience exports."""
