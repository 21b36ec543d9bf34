"""Who the customers are: cleaning and identity resolution, features, RFM, clusters, rule segments, suppression, lifecycle, the customer base."""
