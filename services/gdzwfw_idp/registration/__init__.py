"""注册: 法人注册 (a three-step wizard: 输入基础信息 → 实名核验 → 注册完成) and
个人注册 — the form rules, the region lists and the wizard kept in the shared store."""
