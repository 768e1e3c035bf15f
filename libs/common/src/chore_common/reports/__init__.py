"""Users' reports to the admins and the admins' answers, the part every service that takes
reports keeps the same way: the answer's rules (`rules`, pure), the table and the saved
answer (`storage`), the admins' queue over HTTP (`routes`).

What can be reported, who may report it and what a report keeps a copy of stay in each
service (tasks: tasks and offers; messaging: messages). This package imports nothing, so a
domain that imports `rules` pulls in no HTTP or SQL.
"""
