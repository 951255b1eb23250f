"""Mail: compose Simple content, parse Raw content, stamp messages as delivered."""
