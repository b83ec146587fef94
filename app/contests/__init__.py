"""Points race contests (积分竞位赛): participants, rollups, leaderboards, finalization."""
