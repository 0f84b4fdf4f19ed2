"""实名核验: raising an account's trust level, one sub-package or module per method.

* ``registry_check`` — 三级（原L1）证件真实性核验 against 法人基础库 (修改信息);
* ``certificate`` — 四级 企业/单位网银证书核验 and 五级 企业/单位CA证书核验
  (one flow; the kind picks the trust anchors and the level);
* ``licence`` — 四级 电子营业执照核验 (and the 微信扫码 login that uses it);
* ``hall`` — 五级 办事大厅现场核验, recorded by staff at the console (``staff``).

``routes`` is the 实名核验 page that lists them."""
