# English pages write dates that no reader can take the wrong way round: 3 Dec 2026, never
# 12/03/2026 (read as 12 March in Europe). Numbers keep Django's English separators.
DATE_FORMAT = "j M Y"
SHORT_DATE_FORMAT = "j M Y"
DATETIME_FORMAT = "j M Y, H:i"
SHORT_DATETIME_FORMAT = "j M Y, H:i"
MONTH_DAY_FORMAT = "j F"
YEAR_MONTH_FORMAT = "F Y"
