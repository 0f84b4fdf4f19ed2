"""The Chinese texts of gdzwfw_idp's pages and checks, in one place (STYLE habit 4).

Wording follows the seed (「失业保险稳岗返还注册登录 操作指引」 part 一) where it has
any; elsewhere it is written in the same plain register.
"""

from __future__ import annotations

from shared.trust import TrustLevel

# 核验方式 (what the 实名核验 page calls each verification) and the level each reaches.
METHOD_REGISTRY = "法人基础库"
METHOD_POPULATION = "人口库"
METHOD_BANK_CERT = "企业/单位网银证书核验"
METHOD_LICENCE = "电子营业执照核验"
METHOD_CA_CERT = "企业/单位CA证书核验"
METHOD_HALL = "办事大厅现场核验"

METHOD_LEVELS = {
    METHOD_REGISTRY: TrustLevel.L1,
    METHOD_POPULATION: TrustLevel.L1,
    METHOD_BANK_CERT: TrustLevel.L2,
    METHOD_LICENCE: TrustLevel.L2,
    METHOD_CA_CERT: TrustLevel.L3,
    METHOD_HALL: TrustLevel.L3,
}

# Field hints, as printed under the seed's 法人注册 fields.
HINT_LOGIN_NAME = "请输入6-20位字符，仅包含数字、字母、下划线中的两种或以上的组合"
HINT_PASSWORD = "请输入8-20位字符，仅含数字、大写字母、小写字母、特殊字符中的三种及以上"
HINT_PASSWORD_CONFIRM = "请再次输入密码"
HINT_ORG_NAME = "请输入企业、个体工商户、政府机关、社会团体等的名称"
HINT_USCC = "请输入企业、个体工商户、政府机关、社会团体等的证件号码"
HINT_ADDRESS_DETAIL = "请输入证件详细地址"
HINT_LEGAL_REP_NAME = "请输入法定代表人姓名"
HINT_LEGAL_REP_ID = "请输入法定代表人证件号码"

# Field errors.
PASSWORD_MISMATCH = "两次输入的密码不一致"
PASSWORD_REQUIRED = "请输入登录密码"
LOGIN_NAME_TAKEN = "该登录账号已被注册，请更换"
USCC_TAKEN = "该单位/企业证件号码已注册法人账号，如忘记账号请通过“找回密码/账号”找回"
ID_NUMBER_TAKEN = "该身份证号码已注册个人账号，如忘记账号请通过“找回密码/账号”找回"
ORG_NAME_INVALID = "请输入企业、个体工商户、政府机关、社会团体等的名称（2-100个字）"
PERSON_NAME_INVALID = "请输入正确的姓名（2-30个字，可含“·”）"
LEGAL_REP_NAME_INVALID = "请输入正确的法定代表人姓名（2-30个字，可含“·”）"
ADDRESS_REGION_INVALID = "请选择证件地址所在的省、市、区（县）"
ADDRESS_DETAIL_INVALID = "请输入证件详细地址（2-100个字）"
APPLICANT_MISSING = "请账号申请人使用微信扫描小程序码，通过人脸识别添加实名信息"
AGREEMENT_MISSING = "请阅读并同意《用户服务协议》和《隐私政策》"
SMS_CODE_MISSING = "请输入短信验证码"
EMAIL_INVALID = "请输入正确的电子邮箱地址"
CURRENT_PASSWORD_WRONG = "当前登录密码不正确"

# Stopped accounts: the number is this service's ``hotline`` setting.
ACCOUNT_DISABLED = "该账号已停用，如有疑问请拨打 {hotline} 咨询"
UNIT_ACCOUNT_DISABLED = "该单位的账号已停用，如有疑问请拨打 {hotline} 咨询"

# 账号安全设置 / 找回密码: a new password ends the account's other logins.
PASSWORD_CHANGED = "登录密码已修改，其他设备上的登录已退出，下次登录请使用新密码。"
PASSWORD_RESET = "账号 {login_name} 的登录密码已重置，该账号在所有设备上的登录均已退出，请使用新密码登录。"

# 法人基础库 / 人口库 checks (实名核验 at registration).
REGISTRY_UNAVAILABLE = "法人基础库暂不可用，请稍后再试，或前往就近的办事大厅现场核验注册账号"
REGISTRY_NOT_FOUND = "法人基础库中未查询到该统一社会信用代码，请核对单位/企业证件号码"
REGISTRY_CLOSED = "该单位在法人基础库中的登记状态为“{status}”，不能注册法人账号"
REGISTRY_NAME_MISMATCH = "单位/企业名称与法人基础库登记信息不一致，请按营业执照（登记证书）填写"
REGISTRY_REP_NAME_MISMATCH = "法定代表人姓名与法人基础库登记信息不一致"
REGISTRY_REP_ID_MISMATCH = "法定代表人证件号码与法人基础库登记信息不一致"
POPULATION_MISMATCH = "姓名与身份证号码不一致，请核对后重新输入"
POPULATION_UNAVAILABLE = "人口库暂不可用，请稍后再试"

# One-time (QR) sessions.
QR_EXPIRED = "二维码已过期，请刷新后重新扫描"
QR_USED = "该二维码已被使用，请刷新后重新扫描"

# Handlers (经办人).
HANDLER_NOT_FOUND = "未找到该个人账号，或姓名、身份证号码与该账号不一致"
HANDLER_EXISTS = "该个人账号已是本单位的经办人"
HANDLER_ONLY_OWN = "经办人为法人办理业务时不能修改法人账号的设置，请使用法人账号登录"
HANDLER_ADD_LEGAL_ONLY = "只有法人账号可以添加经办人"
PERSON_VERIFY_ELSEWHERE = "个人账号请通过人脸识别等个人核验方式升级；本页面的核验方式仅适用于法人账号。"
