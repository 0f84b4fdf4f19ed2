"""The Chinese wording of 广东人社统一认证, in one place (STYLE habit 4).

Messages quoted from the seed keep its exact text; the rest say plainly what
is wrong and what to do next.
"""

from __future__ import annotations

from shared.account_rules import HRSS_LOGIN_ACCOUNT_MESSAGE, HRSS_PASSWORD_MESSAGE
from shared.sms import MOBILE_MESSAGE

# -- the seed's own texts ------------------------------------------------------
ID_EXISTS = "证件号已存在"
LEVEL_TOO_LOW = "当前账号实名等级不足，请至少提升至二级实名后重试"
LOGIN_ACCOUNT_RULE = HRSS_LOGIN_ACCOUNT_MESSAGE
PASSWORD_RULE = HRSS_PASSWORD_MESSAGE  # format with n=max_keyboard_run
MOBILE_RULE = MOBILE_MESSAGE
CHOOSE_UNIT_BUTTON = "为选中的单位办理业务，点击此处登录"

# -- fields --------------------------------------------------------------------
REQUIRED = "请输入{label}"
CHOOSE = "请选择{label}"
PERSON_NAME_RULE = "请输入真实姓名（2-30个汉字，少数民族姓名中的“·”可保留）"
LEGAL_REP_NAME_RULE = "请输入法定代表人姓名（2-30个汉字）"
ORG_NAME_RULE = "单位名称应为2-100个字符"
ADDRESS_RULE = "详细地址应为5-100个字符"
PASSWORD_MISMATCH = "两次输入的密码不一致"
LOGIN_NAME_TAKEN = "该用户名已被注册，请更换其他用户名"
PERSON_LOGIN_TAKEN = "该登录账号已被注册，请更换其他登录账号"
SMS_REQUIRED = "请输入短信验证码"
SMS_SENT = "验证码已发送至{mobile}，5分钟内有效"
CERT_TYPE_HINT = "推荐使用统一社会信用代码注册"
ORG_CODE_HINT = "如果证件类型为组织机构代码，第九位“-”请省略"

# -- personal accounts -----------------------------------------------------------
STEP1_MISMATCH = "实名个人登录账号与实名个人证件号码不匹配，请核对后重新输入"
FIND_LOGIN_NOT_FOUND = "证件号码与手机号码不匹配，未找到对应的个人账号"
RESET_MISMATCH = "登录账号与证件号码不匹配，请核对后重新输入"
RESET_DONE = "密码已重置，该账号在所有设备上的登录均已退出，请使用新密码登录"
REALNAME_FAILED = "实名核验未通过：姓名、证件号码或证件有效期与人口库登记信息不一致"
REALNAME_NO_RECORD = "实名核验未通过：人口库中未查询到该证件号码，请核对或前往社保服务窗口办理"
REALNAME_CARD_EXPIRED = "您的居民身份证已过有效期，请更换证件后再进行实名核验"
REALNAME_DEREGISTERED = "该证件号码在人口库中的状态异常，无法通过实名核验，请前往社保服务窗口办理"
REALNAME_DONE = "实名核验通过，您的账号已提升为二级实名"
REALNAME_ALREADY = "您的账号已是二级或以上实名，无需重复核验"
VALID_UNTIL_RULE = "请输入证件有效期截止日期，或勾选“长期有效”"
TOO_MANY_CHECKS = "尝试次数过多，请{minutes}分钟后再试"

# -- login -----------------------------------------------------------------------
ENTER_ACCOUNT_AND_PASSWORD = "请输入账号和密码"
WRONG_PASSWORD = "账号或密码错误，您还可以尝试{left}次"
LOCKED = "密码错误次数过多，账号已被锁定，请{minutes}分钟后再试，或通过“忘记密码”重置密码"
ADDRESS_THROTTLED = "登录尝试过于频繁，请{minutes}分钟后再试"
ACCOUNT_DISABLED = "该账号已停用，如有疑问请拨打 {hotline} 咨询"  # the service's ``hotline`` setting
# The agency console (password + 动态口令, shared.staff_totp).
STAFF_ENTER_ALL = "请输入账号、密码和动态口令"
STAFF_WRONG = "账号、密码或动态口令错误，您还可以尝试{left}次"
STAFF_LOCKED = "验证失败次数过多，账号已被锁定，请{minutes}分钟后再试"
STAFF_CODE_USED = "该动态口令已使用，请等待口令刷新后再登录"
NO_BOUND_UNITS = "您的个人账号尚未与任何单位完成绑定。请由单位账号在【账户管理】-【子账号信息】中发起绑定申请，并在【父账号信息】中确认。"
NOT_BOUND = "您与该单位的绑定关系不存在或已解除，请重新选择"

# -- bindings --------------------------------------------------------------------
HANDLER_NOT_FOUND = "未找到该实名个人账号，请核对经办人的登录账号和证件号码"
BINDING_PENDING = "已向该账号发起绑定申请，请等待经办人确认"
BINDING_ACTIVE = "该账号已是本单位的经办人，无需重复绑定"
BINDING_REQUESTED = "绑定申请已发送，请经办人登录个人账号，在【账户管理】-【父账号信息】中确认"
BINDING_NOT_FOUND = "未找到该绑定申请"
BINDING_WITHDRAWN = "该绑定申请已被单位撤回，无法确认"
BINDING_NOT_PENDING = "该绑定申请已处理，请刷新页面查看最新状态"
BINDING_ACCEPTED = "已确认绑定，您可以在个人登录后为该单位办理业务"
BINDING_DECLINED = "已拒绝该绑定申请"
BINDING_WITHDRAW_DONE = "已撤回绑定申请"
BINDING_ENDED = "已解除绑定"

# -- unit authorisation codes ---------------------------------------------------
CHOOSE_UNITS = "请勾选需要办理授权码绑定的单位"
ONLY_BOUND_UNITS = "只能为已与您绑定的单位申请授权码"
APPLICATION_PENDING = "该单位已有待审核的授权码申请，请勿重复提交"
ALREADY_AUTHORIZED = "您已完成该单位的授权码实名，无需重复申请"
APPLICATION_SUBMITTED = "申请已提交，请等待所属社保经办机构审核。审核办结后，系统将以短信通知您。"
UPLOAD_REQUIRED = "请上传{kind}"
UPLOAD_TOO_LARGE = "文件大小不能超过{size}"
UPLOAD_BODY_TOO_LARGE = "上传的材料总大小超出限制（每个文件不超过{size}），请压缩后重新上传"
UPLOAD_BAD_EXTENSION = "仅支持PDF、JPG、PNG格式的文件"
UPLOAD_BAD_CONTENT = "文件内容不是有效的PDF、JPG或PNG文件，请重新上传"
UPLOAD_MISMATCH = "文件内容与文件名不符（文件名为{ext}，内容为{actual}），请上传真实的材料文件"
CODE_REQUIRED = "请输入单位授权码"
CODE_WRONG = "授权码不正确，请核对短信中的单位授权码"
CODE_OTHER_UNIT = "该授权码不是当前单位的授权码，请选择对应的单位登录后再进行授权码实名"
CODE_USED = "该授权码已使用，不能重复使用"
CODE_EXPIRED = "该授权码已过期，请重新申请单位授权码"
CODE_DONE = "授权码实名成功，您已完成该单位的实名授权"
CODE_NEEDS_UNIT = "请先选择要办理业务的单位，再进行授权码实名"

# -- staff -----------------------------------------------------------------------
NO_REVIEW_ROLE = "您没有审核单位授权码的权限，请联系系统管理员"
REVIEW_APPROVED = "已审核通过，授权码已通过短信发送给经办人"
REVIEW_REJECTED = "已驳回，驳回原因已通过短信通知经办人"
APPLICATION_NOT_FOUND = "未找到该申请"
APPLICATION_ALREADY_REVIEWED = "该申请已处理，请刷新页面查看最新状态"
REJECT_REASON_REQUIRED = "请填写驳回原因（不超过200字）"
WINDOW_PERSON_NOT_FOUND = "未找到该证件号码的个人账号，请经办人先注册广东人社统一认证个人账号"
WINDOW_UNIT_NOT_FOUND = "未找到该单位，请核对单位管理码、统一社会信用代码或组织机构代码"
WINDOW_MATERIALS_REQUIRED = "请逐项核验并勾选线下提交的材料"

# -- SMS texts ---------------------------------------------------------------------
SMS_APPROVED = (
    "您为“{org_name}”（单位管理码{unit_code}）申请的单位授权码已审核通过，授权码：{code}，"
    "有效期至{expires}。请登录广东人社统一认证，在【实名认证】-【授权码实名】中完成授权。"
)
SMS_REJECTED = "您为“{org_name}”（单位管理码{unit_code}）申请的单位授权码未通过审核，原因：{reason}。"

__all__ = [name for name in list(globals()) if name.isupper()]
UNUSED_CODE_EXISTS = "您已有该单位尚未使用的授权码，请在【授权码实名】中输入短信中的授权码"
WINDOW_PENDING_EXISTS = "该经办人已为该单位提交线上申请，请在待审核列表中处理"
__all__ = [name for name in list(globals()) if name.isupper()]
