"""The review committee's calendar: meetings, their agendas and the decisions taken there."""
