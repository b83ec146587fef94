"""Year targets (年度目标书), the progress table (进度表) and the year-end scorecard (成绩单)."""
