"""What operators see: the retained dashboard topics under `store/{store}/gateway/`, alerts,
Home Assistant discovery, and `storegw top`, the terminal dashboard that reads them back."""
