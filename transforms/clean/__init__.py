"""Clean: records to articles (text as published, title, author, date), with a time limit
per page."""
